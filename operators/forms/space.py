"""French forms of the operator space and the back office (django-dsfr rendering).

Forms only shape input; the rules live in the models' validators and the services.
"""
from django import forms
from dsfr.forms import DsfrBaseForm

from operators.forms.fields import PhoneField, PostalCodeField
from operators.models import Role
from operators.queries import CONTRACT_FILTERS, TECHNICAL_ADMIN_FILTERS
from trustspace.forms_util import FilterForm
from trustspace.idempotency import SubmissionTokenMixin


class OperatorForm(DsfrBaseForm):
    name = forms.CharField(label="Raison sociale", max_length=200)
    siret = forms.CharField(label="SIRET du siège", max_length=20, required=False,
                            help_text="14 chiffres ; doit commencer par le SIREN.")
    address_line = forms.CharField(label="Adresse", max_length=255)
    postal_code = PostalCodeField(label="Code postal")
    city = forms.CharField(label="Commune", max_length=100)
    contact_email = forms.EmailField(label="Courriel de contact",
                                     widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    contact_phone = PhoneField(label="Téléphone de contact", required=False)


class OperatorRegistrationForm(OperatorForm):
    siren = forms.CharField(label="SIREN", max_length=11, help_text="9 chiffres.")
    id_nat_struct = forms.CharField(
        label="idNat_Struct", max_length=32,
        help_text="Porté dans l'OU de vos certificats IGC-Santé : un chiffre de type (2 = SIREN, 3 = SIRET…) suivi "
                  "de l'identifiant.",
    )
    field_order = ["name", "siren", "siret", "id_nat_struct", "address_line", "postal_code", "city", "contact_email",
                   "contact_phone"]


class SupportContactForm(DsfrBaseForm):
    support_contact = forms.CharField(
        label="Contact support", max_length=255,
        help_text="Publié dans la liste blanche : courriel et téléphone, par exemple « support@exemple.fr, "
                  "01 23 45 67 89 ».",
    )


class ContractAcceptanceForm(SubmissionTokenMixin, DsfrBaseForm):
    confirm = forms.BooleanField(
        label="J'ai lu le contrat d'adhésion et je l'accepte au nom de mon opérateur.", required=True,
        error_messages={"required": "Cochez la case pour accepter le contrat."},
    )


class InvitationForm(SubmissionTokenMixin, DsfrBaseForm):
    email = forms.EmailField(label="Courriel de la personne")
    role = forms.ChoiceField(label="Rôle", choices=Role.choices, initial=Role.TECHNICAL_ADMIN)
    mandate_document = forms.FileField(
        label="Mandat signé ou justificatif de pouvoir (PDF)", required=False,
        help_text="Obligatoire pour un mandataire. Pour un représentant légal : K-bis ou délégation, à défaut du "
                  "numéro de sa carte qu'il donnera en acceptant. PDF, 5 Mo au maximum.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
    )


class RemovalForm(DsfrBaseForm):
    reason = forms.CharField(label="Motif", max_length=255, required=False)


class ContractVersionForm(SubmissionTokenMixin, DsfrBaseForm):
    version = forms.CharField(label="Version", max_length=20, help_text="Par exemple 2026-11.")
    title = forms.CharField(label="Titre", max_length=200)
    body = forms.CharField(label="Texte du contrat", widget=forms.Textarea(attrs={"rows": 12}))


class OperatorSearchForm(FilterForm):
    CONTRACT_CHOICES = [("", "Tous"), *CONTRACT_FILTERS.items()]
    TA_CHOICES = [("", "Tous"), *TECHNICAL_ADMIN_FILTERS.items()]
    q = forms.CharField(label="Rechercher (nom, SIREN, SIRET, idNat_Struct)", required=False, max_length=100)
    contract = forms.ChoiceField(label="Contrat", choices=CONTRACT_CHOICES, required=False)
    technical_admin = forms.ChoiceField(label="Administrateurs techniques", choices=TA_CHOICES, required=False)


class ChannelsForm(DsfrBaseForm):
    """The operator's optional technical mailbox and webhook (operators/channels.py checks them)."""

    technical_mailbox = forms.CharField(
        label="Boîte générique technique", required=False, max_length=254,
        help_text="Reçoit, en plus des personnes concernées, chaque notification de l'opérateur.")
    webhook_url = forms.CharField(
        label="Adresse du webhook", required=False, max_length=500,
        help_text="Reçoit chaque notification en JSON (POST signé : en-tête X-DRIMM-Signature, HMAC-SHA256 du "
                  "X-DRIMM-Timestamp, d'un point et du corps). Adresse https publique.")
    new_secret = forms.BooleanField(label="Générer un nouveau secret de signature", required=False)
