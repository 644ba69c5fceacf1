"""Filters of ANS's history page: those of every history (trustspace.history) and the operator."""
from django import forms

from operators.models import Operator
from trustspace.history import HistoryFilterForm


class AnsHistoryFilterForm(HistoryFilterForm):
    operateur = forms.ModelChoiceField(label="Opérateur", required=False, empty_label="Tous",
                                       queryset=Operator.objects.order_by("name"))

    def filter(self, queryset):
        queryset = super().filter(queryset)
        if self.is_valid() and self.cleaned_data.get("operateur"):
            queryset = queryset.filter(operator_id=self.cleaned_data["operateur"].pk)
        return queryset
