"""Filters of the operator's list pages (« Mes demandes »)."""
from django import forms

from operators.models import RequestKind, RequestStatus
from trustspace.forms_util import FilterForm

OPEN = "en_cours"


class RequestFilterForm(FilterForm):
    q = forms.CharField(label="Référence ou DRIMbox", required=False, max_length=253,
                        help_text="Référence de la demande, identifiant ou nom db de la DRIMbox")
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Tous")] + RequestKind.choices)
    status = forms.ChoiceField(label="Statut", required=False,
                               choices=[("", "Tous"), (OPEN, "En cours (non décidées)")] + RequestStatus.choices)
