"""Filters of the incident lists (ANS: every DRIMbox; an operator: its own)."""
from django import forms

from trustspace.forms_util import FilterForm

STATES = [("", "Tous"), ("ouvert", "En cours"), ("retabli", "Rétablis")]
BREACHES = [("", "Tous"), ("gti", "GTI dépassée"), ("gtr", "GTR dépassée"), ("gti_gtr", "GTI ou GTR dépassée")]


class IncidentFilterForm(FilterForm):
    q = forms.CharField(label="DRIMbox", required=False, max_length=253, help_text="Identifiant ou début du FQDN")
    state = forms.ChoiceField(label="État", required=False, choices=STATES)
    breach = forms.ChoiceField(label="Garanties", required=False, choices=BREACHES)
    since = forms.DateField(label="Début à partir du", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            input_formats=["%Y-%m-%d", "%d/%m/%Y"], help_text="Format : jj/mm/aaaa")
    until = forms.DateField(label="Début jusqu'au", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            input_formats=["%Y-%m-%d", "%d/%m/%Y"], help_text="Format : jj/mm/aaaa")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "La date de fin doit suivre la date de début.")
        return cleaned


class AnsIncidentFilterForm(IncidentFilterForm):
    operator = forms.CharField(label="Opérateur", required=False, max_length=200)

    field_order = ["q", "operator", "state", "breach", "since", "until"]
