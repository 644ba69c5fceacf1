"""The form of a personal API token (the rules, and the token itself, are trustspace's services)."""
from django import forms
from dsfr.forms import DsfrBaseForm

from trustspace.idempotency import SubmissionTokenMixin


class ApiTokenForm(SubmissionTokenMixin, DsfrBaseForm):
    """A personal API token: its name, scopes, and optional operator, DRIMboxes and expiry (rules: the service)."""

    name = forms.CharField(label="Nom du jeton", max_length=100,
                           help_text="Pour le reconnaître, par exemple « supervision ».")
    scopes = forms.MultipleChoiceField(label="Portées", widget=forms.CheckboxSelectMultiple,
                                       help_text="Ce que le jeton peut faire ; « Lecture » permet de tout consulter.")
    operator = forms.TypedChoiceField(label="Opérateur", required=False, coerce=int, empty_value=None,
                                      help_text="Limiter le jeton à l'un de vos opérateurs.")
    drimboxes = forms.TypedMultipleChoiceField(
        label="DRIMbox (automatisation des certificats)", required=False, coerce=int,
        help_text="Avec la portée « Certificats » : ses appels de certificats sont limités à ces DRIMbox de "
                  "l'opérateur choisi. Aucune : toutes.")
    expires_at = forms.DateField(label="Date d'expiration", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, user, **kwargs):
        from django.conf import settings

        from operators import api_tokens
        from trustspace.models import ApiScope

        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [(value, label) for value, label in ApiScope.choices
                                         if value != ApiScope.ANS or user.is_ans_admin]
        self.fields["operator"].choices = [("", "Tous mes opérateurs"), *api_tokens.operator_choices(user)]
        self.fields["drimboxes"].choices = api_tokens.drimbox_choices(user)
        max_days = settings.API_TOKEN_MAX_DAYS
        self.fields["expires_at"].help_text = (
            f"Le jeton cesse de fonctionner à la fin de ce jour (heure de Paris) ; au plus {max_days} jours, "
            f"{max_days} jours si vous ne choisissez pas." if max_days > 0 else
            "Le jeton cesse de fonctionner à la fin de ce jour (heure de Paris) ; sans date, il n'expire pas.")

    def clean_expires_at(self):
        """The chosen day's last second in Europe/Paris (the service checks past and maximum)."""
        from datetime import datetime, time

        from django.utils import timezone

        day = self.cleaned_data.get("expires_at")
        if day and day < timezone.localdate():
            raise forms.ValidationError("Choisissez une date future.")
        return timezone.make_aware(datetime.combine(day, time(23, 59, 59))) if day else None
