"""Forms of the DRIMbox journey. They collect input; the services validate it (one place for UI and API)."""
from django import forms
from django.contrib.auth import get_user_model
from dsfr.forms import DsfrBaseForm

from operators.models import AttachmentKind, DrimboxStatus, RequestKind, RequestStatus
from operators.request_data import FIELDS, LABELS, usable_orders
from trustspace.idempotency import SubmissionTokenMixin

HELP = {
    "structure_siren": "9 chiffres.",
    "structure_finess_geographique": "9 caractères (2A/2B pour la Corse). Doit figurer dans le bon de commande.",
    "pacs": "L'identifiant du PACS tel qu'il figure sur le bon de commande.",
    "financing_order": "Le bon de commande SONS-IMG-DB-va2 qui finance cette DRIMbox.",
    "db_addresses": "Adresses IP (séparées par des virgules) ou un nom d'hôte cible (CNAME) du point d'accès "
                    "DRIMbox-à-DRIMbox.",
    "vi_addresses": "Adresses IP ou nom d'hôte cible de la visionneuse ; facultatif, vide pour une DRIMbox sans "
                    "visionneuse.",
    "support_contact": "Publié dans la liste blanche : courriel et téléphone du support.",
    "responsable_contact": "Facultatif ; publié dans la liste blanche.",
    "reason": "Expliquez la raison de la demande.",
}
TEXTAREAS = {"reason", "message"}


def request_form_class(kind, operator, drimbox=None):
    """The form of a request of ``kind`` for ``operator`` (the orders it may name, see ``usable_orders``)."""
    kind = RequestKind(kind)
    fields = {}
    if kind == RequestKind.SWITCH:
        fields["drimbox_ref"] = forms.CharField(
            label="DRIMbox reprise", max_length=253,
            help_text="Identifiant (ex. 175) ou nom db/vi de la DRIMbox dont vous reprenez l'exploitation.")
    for name in FIELDS[kind]:
        if name == "financing_order":
            fields[name] = forms.ChoiceField(
                label="Bon de commande", required=False, help_text=HELP[name],
                choices=[("", "— Aucun (DRIMbox non financée) —")] + [
                    (str(order.pk), f"{order.reference} — PACS {order.pacs_identifier}"
                     if order.operator_id == operator.pk else "Le bon de commande actuel de la DRIMbox reprise")
                    for order in usable_orders(operator, drimbox if kind == RequestKind.SWITCH else None)],
            )
            continue
        if name == "has_viewer":
            fields[name] = forms.ChoiceField(
                label="La DRIMbox a une visionneuse (nom vi)", required=False, initial="oui",
                widget=forms.RadioSelect, choices=[("oui", "Oui : un nom vi lui est attribué"),
                                                   ("non", "Non : DRIMbox sans visionneuse (pas de nom vi)")],
                help_text="Sans visionneuse, seul le nom db est attribué ; aucun certificat vi n'est demandé.")
            continue
        widget = forms.Textarea(attrs={"rows": 3}) if name in TEXTAREAS else None
        fields[name] = forms.CharField(label=LABELS[name][:1].upper() + LABELS[name][1:], required=False,
                                       help_text=HELP.get(name, ""), widget=widget)
    if kind in {RequestKind.DECLARATION, RequestKind.SWITCH}:
        fields["cgi"] = forms.FileField(
            label="Conditions Générales d'Intégration signées (PDF)", required=False,
            help_text="Signées pour cette installation ; 5 Mo au plus. Obligatoires pour soumettre.")
    return type(f"{kind.name.title()}RequestForm", (SubmissionTokenMixin, DsfrBaseForm), fields)


class AttachmentForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "attach"

    kind = forms.ChoiceField(label="Nature de la pièce", choices=AttachmentKind.choices)
    file = forms.FileField(label="Fichier (PDF, 5 Mo au plus)")


class CommentForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "comment"

    text = forms.CharField(label="Commentaire", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class CancelForm(DsfrBaseForm):
    prefix = "cancel"

    reason = forms.CharField(label="Motif (facultatif)", required=False, max_length=2000)


class AssignForm(DsfrBaseForm):
    prefix = "assign"

    reviewer = forms.ModelChoiceField(label="Relecteur", queryset=get_user_model().objects.none(), required=False,
                                      empty_label="Moi-même")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = get_user_model().objects.filter(is_ans_admin=True, is_active=True)


class ChangesForm(DsfrBaseForm):
    prefix = "changes"

    comment = forms.CharField(label="Modifications attendues", widget=forms.Textarea(attrs={"rows": 3}),
                              required=False)


class RejectForm(DsfrBaseForm):
    prefix = "reject"

    reason = forms.CharField(label="Motif du refus", widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ApproveForm(DsfrBaseForm):
    prefix = "approve"

    override_reason = forms.CharField(
        label="Dérogation de financement (motif)", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Seulement pour une DRIMbox non financée : le motif est tracé dans l'historique.")
    comment = forms.CharField(label="Commentaire pour l'opérateur (facultatif)", required=False)


class FinancingOrderForm(SubmissionTokenMixin, DsfrBaseForm):
    reference = forms.CharField(label="Référence du bon de commande", max_length=64)
    client_siren = forms.CharField(label="SIREN du client (structure de santé)", max_length=20)
    pacs_identifier = forms.CharField(label="Identifiant du PACS", max_length=100)
    finess_geographiques = forms.CharField(
        label="FINESS géographiques couverts", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Un ou plusieurs, séparés par des virgules ou des espaces.")


class VaUploadForm(DsfrBaseForm):
    file = forms.FileField(label="Document VA (PDF, 5 Mo au plus)")
    with_reservations = forms.BooleanField(
        label="VA signé avec réserves (RIS du client pas encore en Vague 2)", required=False,
        help_text="Les réserves seront à lever dans les deux mois suivant le signalement, par le client, de la "
                  "mise à jour de son RIS en Vague 2.")


class VaRisUpdateForm(DsfrBaseForm):
    signalled_on = forms.DateField(
        label="Date à laquelle le client a signalé la mise à jour du RIS en Vague 2",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Indiquez la date du signalement.",
                        "invalid": "Indiquez une date valide (jj/mm/aaaa)."})


class VaLiftingUploadForm(DsfrBaseForm):
    file = forms.FileField(label="Document de levée des réserves signé par le client (PDF, 5 Mo au plus)")


class VaRefuseForm(DsfrBaseForm):
    reason = forms.CharField(label="Motif du refus", required=False)


AGE_CHOICES = [("", "Toutes"), ("2", "Plus de 2 jours"), ("7", "Plus de 7 jours"), ("30", "Plus de 30 jours")]


class ReviewQueueFilterForm(DsfrBaseForm):
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Tous")] + RequestKind.choices)
    status = forms.ChoiceField(label="Statut", required=False, choices=[("", "À traiter")] + [
        choice for choice in RequestStatus.choices if choice[0] != RequestStatus.DRAFT] + [("toutes", "Tous")])
    operator = forms.CharField(label="Opérateur", required=False, max_length=200)
    age = forms.ChoiceField(label="Ancienneté", required=False, choices=AGE_CHOICES)
    assigned = forms.ChoiceField(label="Affectation", required=False, choices=[
        ("", "Toutes"), ("moi", "Les miennes"), ("aucune", "Non affectées")])


class RegistrySearchForm(DsfrBaseForm):
    q = forms.CharField(label="FQDN ou identifiant", required=False, max_length=253)
    operator = forms.CharField(label="Opérateur", required=False, max_length=200)
    structure = forms.CharField(label="Structure de santé", required=False, max_length=200)
    status = forms.ChoiceField(label="Statut", required=False, choices=[("", "Tous")] + DrimboxStatus.choices)
    dns = forms.ChoiceField(label="DNS", required=False, choices=[("", "Tous"), ("en_attente", "DNS en attente")])


class AttestationCheckForm(DsfrBaseForm):
    code = forms.CharField(label="Code de vérification", max_length=40, help_text="Ex. ATT-ABCD-EFGH-JKMN")
