"""Forms of the weather pages. They shape input; ``weather.services`` decides what is allowed."""
from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from dsfr.forms import DsfrBaseForm

from trustspace.forms_util import FilterForm
from trustspace.idempotency import SubmissionTokenMixin
from weather.models import WeatherStatus

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"]
STATUS_CHOICES = [("", "Tous")] + WeatherStatus.choices


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class PlainSelect(forms.Select):
    """A select whose options are written in Python: Django renders each option through a template, which costs
    tens of milliseconds for the hundreds of operators of the public filter."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = set(self.format_value(value))
        options = format_html_join("", "<option value=\"{}\"{}>{}</option>", (
            (str(choice), " selected" if str(choice) in selected else "", label) for choice, label in self.choices))
        attributes = flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name}))
        return format_html("<select{}>{}</select>", attributes, options)


class MaintenanceForm(SubmissionTokenMixin, DsfrBaseForm):
    starts_at = forms.DateTimeField(label="Début (heure de Paris)", input_formats=DATETIME_FORMATS,
                                    widget=LocalDateTimeInput(),
                                    error_messages={"invalid": "Date et heure invalides (jj/mm/aaaa hh:mm)."})
    ends_at = forms.DateTimeField(label="Fin (heure de Paris)", input_formats=DATETIME_FORMATS,
                                  widget=LocalDateTimeInput(),
                                  error_messages={"invalid": "Date et heure invalides (jj/mm/aaaa hh:mm)."})
    reason = forms.CharField(label="Motif", max_length=300,
                             help_text="Affiché sur la météo publique : restez factuel (ex. « Mise à jour du PACS »).")


class AcknowledgeForm(SubmissionTokenMixin, DsfrBaseForm):
    """« Prendre en compte » an incident (one per incident on the page: ``auto_id`` keeps their ids apart)."""

    comment = forms.CharField(label="Commentaire", max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, auto_id=f"ack-{incident.pk}-%s", **kwargs)


class MaintenanceCancelForm(SubmissionTokenMixin, DsfrBaseForm):
    """« Annuler » or « Terminer maintenant » a maintenance window: its submission token only."""

    def __init__(self, *args, window, **kwargs):
        super().__init__(*args, auto_id=f"maintenance-{window.pk}-%s", **kwargs)


class PublicFilterForm(FilterForm):
    q = forms.CharField(label="FQDN ou identifiant", required=False, max_length=253)
    operator = forms.TypedChoiceField(label="Opérateur", required=False, coerce=int, empty_value=None,
                                      widget=PlainSelect)
    status = forms.ChoiceField(label="Statut", required=False, choices=STATUS_CHOICES)

    def __init__(self, *args, operators=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["operator"].choices = [("", "Tous")] + [(str(pk), name) for pk, name in operators]


class AnsFilterForm(FilterForm):
    q = forms.CharField(label="FQDN ou identifiant", required=False, max_length=253)
    operator = forms.CharField(label="Opérateur", required=False, max_length=200)
    status = forms.ChoiceField(label="Statut", required=False, choices=STATUS_CHOICES)
    incident = forms.ChoiceField(label="Incident", required=False, choices=[
        ("", "Tous"), ("ouvert", "Incident en cours"), ("gti_depassee", "GTI dépassée"),
        ("gtr_depassee", "GTR dépassée")])
