"""Forms of the PERF report pages and of the measurement policy (input shape only; rules in the services)."""
from django import forms
from dsfr.forms import DsfrBaseForm

from trustspace.idempotency import SubmissionTokenMixin
from weather.models import ReferencePeriod


class PolicyVersionForm(SubmissionTokenMixin, DsfrBaseForm):
    reference_period = forms.ChoiceField(label="Période de référence", choices=ReferencePeriod.choices,
                                         initial=ReferencePeriod.MONTH)
    support_hours_only = forms.BooleanField(
        label="Ne compter que les heures ouvrées", required=False,
        help_text="Lundi–vendredi 9 h–19 h et samedi 9 h–13 h (Paris), hors dimanches et jours fériés.")
    maintenance_counts = forms.BooleanField(
        label="Compter l'indisponibilité pendant une maintenance déclarée", required=False)
    effective_from = forms.RegexField(
        label="Applicable à partir du mois", regex=r"^\d{4}-\d{2}$", max_length=7,
        help_text="AAAA-MM : le premier jour de ce mois à 0 h (Paris). Mois en cours ou à venir.",
        error_messages={"invalid": "Saisissez un mois au format AAAA-MM."})
    comment = forms.CharField(label="Motif du changement", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
