"""The error summary of the portal's forms (issue 16, item 2): its count is the number of errors it lists."""
import re

from django import forms
from django.core.validators import RegexValidator
from django.template.loader import render_to_string
from django.test import RequestFactory


class _TwoRulesForm(forms.Form):
    code = forms.CharField(label="Code", min_length=5, validators=[RegexValidator(r"^\d+$", "Chiffres seulement.")])
    name = forms.CharField(label="Nom")

    def clean(self):
        raise forms.ValidationError("Cette combinaison est refusée.")


def _summary(data):
    html = render_to_string("includes/form.html", {"form": _TwoRulesForm(data)}, request=RequestFactory().get("/"))
    title = re.search(r'<h2 class="fr-alert__title">(.*?)</h2>', html).group(1)
    listed = re.findall(r"<li>", html[:html.index("</ul>")])
    return title, len(listed)


def test_the_summary_counts_every_error_not_the_fields_in_error():
    # « ab »: too short and not digits (two errors on one field); « Nom » missing; one error of the whole form.
    title, listed = _summary({"code": "ab", "name": ""})
    assert (title, listed) == ("Le formulaire contient 4 erreurs", 4)


def test_one_error_is_singular():
    title, listed = _summary({"code": "12345", "name": "x"})  # only the whole-form error
    assert (title, listed) == ("Le formulaire contient 1 erreur", 1)
