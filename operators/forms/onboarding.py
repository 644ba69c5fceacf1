"""Forms of the onboarding journey. They shape input; ``operators.services`` and ``onboarding`` decide."""
from django import forms
from django.conf import settings
from dsfr.forms import DsfrBaseForm

from operators.forms.space import OperatorRegistrationForm
from operators.models import ContractVersion, RequestKind
from operators.onboarding import CARD_OR_PROOF_MESSAGE
from operators.request_data import APPLICATION_FIELDS, clean_data
from trustspace.errors import InvalidData
from trustspace.idempotency import SubmissionTokenMixin

PDF_WIDGET = {"accept": "application/pdf"}


class ApplicationForm(SubmissionTokenMixin, OperatorRegistrationForm):
    """The adhesion application: legal entity, legal representative, card or proof, signed contract."""

    representative_name = forms.CharField(label="Nom et prénom du représentant légal", max_length=150)
    representative_function = forms.CharField(label="Fonction du représentant légal", max_length=100,
                                              help_text="Par exemple « Président », « Directeur général ».")
    legal_rep_card = forms.CharField(
        label="Numéro de la carte de représentant légal", max_length=40, required=False,
        help_text="10 chiffres, imprimés sur la carte. À défaut, joignez ci-dessous un justificatif de votre pouvoir "
                  "de représenter l'entreprise.")
    power_document = forms.FileField(
        label="Justificatif du pouvoir de représenter (PDF)", required=False,
        help_text="Extrait K-bis ou délégation de pouvoir ; PDF, 5 Mo au plus.",
        widget=forms.ClearableFileInput(attrs=PDF_WIDGET))
    contract_document = forms.FileField(
        label="Contrat d'adhésion signé (PDF)", help_text="PDF, 5 Mo au plus.",
        widget=forms.ClearableFileInput(attrs=PDF_WIDGET))
    contract_accepted = forms.BooleanField(
        label="J'ai lu le contrat d'adhésion en vigueur et je l'accepte au nom de l'entreprise.")

    field_order = (*OperatorRegistrationForm.field_order, "representative_name", "representative_function",
                   "legal_rep_card", "power_document", "contract_document", "contract_accepted")

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not settings.ONBOARDING_REQUIRE_CARDS:
            self.fields["legal_rep_card"].help_text = "Facultatif sur cette plateforme."
        current = ContractVersion.current()
        if current is not None:
            # The same words as the service's refusal, next to the box, on the first attempt.
            self.fields["contract_accepted"].error_messages["required"] = (
                f"Acceptez la version {current.version} du contrat d'adhésion.")
        if editing:
            # A filed application keeps its SIREN and its contract; new documents are added to it.
            self.fields["siren"].disabled = True
            self.fields["contract_document"].required = False
            self.fields["contract_document"].help_text = "Seulement pour remplacer le contrat déjà joint."
            del self.fields["contract_accepted"]
        self.editing = editing

    def clean(self):
        cleaned = super().clean()
        self._add_data_problems(cleaned)
        # Said with the other mistakes on the first attempt (the service checks it again, and the format).
        if (settings.ONBOARDING_REQUIRE_CARDS and not self.editing and not (cleaned.get("legal_rep_card") or "").strip()
                and not cleaned.get("power_document") and not {"legal_rep_card", "power_document"} & set(self.errors)):
            self.add_error("legal_rep_card", CARD_OR_PROOF_MESSAGE)
        return cleaned

    def _add_data_problems(self, cleaned):
        """What the service refuses in the data sent (a SIREN's key, a SIRET of another SIREN…), said now with the
        form's own errors: every problem on the first attempt, by the service's own rules."""
        values = {field: cleaned.get(field) or "" for field in APPLICATION_FIELDS if field in self.fields}
        values["contract_version"] = "-"  # the version in force, set by the service
        try:
            clean_data(RequestKind.ADHESION, values, operator=None, for_submit=not self.editing)
        except InvalidData as exc:
            for field, messages in exc.field_errors.items():
                if field in self.fields and field not in self.errors:
                    for message in messages:
                        self.add_error(field, message)


class InvitationCardForm(DsfrBaseForm):
    card_reference = forms.CharField(
        label="Référence de votre carte", max_length=60, required=False,
        help_text="Administrateur technique : le numéro de votre carte CPA (10 chiffres) ou la référence de "
                  "l'habilitation IGC-Santé avec laquelle vous commandez les certificats. Représentant légal : "
                  "le numéro de votre carte de représentant légal.")
