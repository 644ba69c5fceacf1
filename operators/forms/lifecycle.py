"""Forms of the DRIMbox journey. They collect input; the services validate it (one place for UI and API)."""
from django import forms
from django.contrib.auth import get_user_model
from dsfr.forms import DsfrBaseForm

from operators.models import AttachmentKind, DrimboxStatus, RequestKind, RequestStatus
from operators.request_data import FIELDS, LABELS, required_to_submit, usable_orders
from operators.services.common import CHANGES_REQUIRED, OVERRIDE_REQUIRED, REFUSAL_REASON_REQUIRED
from trustspace.forms_util import FilterForm
from trustspace.idempotency import SubmissionTokenMixin

HELP = {
    "structure_siren": "9 chiffres.",
    "structure_finess_geographique": "9 caractères (2A/2B pour la Corse). Doit figurer dans le bon de commande.",
    "pacs": "L'identifiant du PACS tel qu'il figure sur le bon de commande.",
    "financing_order": "Le bon de commande SONS-IMG-DB-va2 qui finance cette DRIMbox.",
    "db_addresses": "Adresses IP (séparées par des virgules) ou un nom d'hôte cible (CNAME) du point d'accès "
                    "DRIMbox-à-DRIMbox.",
    "vi_addresses": "Adresses IP ou nom d'hôte cible de la visionneuse ; vide pour une DRIMbox sans visionneuse.",
    "support_contact": "Publié dans la liste blanche : courriel et téléphone du support.",
    "responsable_contact": "Publié dans la liste blanche : courriel et téléphone du responsable.",
    "reason": "Expliquez la raison de la demande.",
}
TEXTAREAS = {"reason", "message"}


class RequiredToSubmit:
    """A field the request needs to be submitted but its draft does not: marked as required (DSFR: no
    « (Optionnel) »; the ``required`` attribute), yet a draft may leave it empty — the service says what is missing
    when the request is submitted (``request_data.required_to_submit``, the same rule)."""

    def validate(self, value):
        if value not in self.empty_values:
            super().validate(value)


class RequiredToSubmitCharField(RequiredToSubmit, forms.CharField):
    pass


class RequiredToSubmitFileField(RequiredToSubmit, forms.FileField):
    pass


def request_form_class(kind, operator, drimbox=None):
    """The form of a request of ``kind`` for ``operator`` (the orders it may name, see ``usable_orders``)."""
    kind = RequestKind(kind)
    needed = set(required_to_submit(kind))
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
                    (str(order.pk), f"{order.reference} — PACS {', '.join(order.pacs_list)}"
                     if order.operator_id == operator.pk else "Le bon de commande actuel de la DRIMbox reprise")
                    for order in usable_orders(operator, drimbox if kind == RequestKind.SWITCH else None)
                    .prefetch_related("pacs")],
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
        field_class = RequiredToSubmitCharField if name in needed else forms.CharField
        fields[name] = field_class(label=LABELS[name][:1].upper() + LABELS[name][1:], required=name in needed,
                                   help_text=HELP.get(name, ""), widget=widget)
    if "cgi" in needed:
        fields["cgi"] = RequiredToSubmitFileField(
            label="Conditions Générales d'Intégration signées (PDF)", required=True,
            help_text="Signées pour cette installation ; 5 Mo au plus.")
    return type(f"{kind.name.title()}RequestForm", (SubmissionTokenMixin, DsfrBaseForm), fields)


class AttachmentForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "attach"

    kind = forms.ChoiceField(label="Nature de la pièce", choices=AttachmentKind.choices)
    file = forms.FileField(label="Fichier (PDF, 5 Mo au plus)")


class CommentForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "comment"

    text = forms.CharField(label="Commentaire", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class SubmitForm(SubmissionTokenMixin, DsfrBaseForm):
    """« Soumettre à l'ANS »: no field, its submission token only (sent twice, it submits once)."""

    prefix = "submit"


class CancelForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "cancel"

    reason = forms.CharField(label="Motif", required=False, max_length=2000)


class AssignForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "assign"

    reviewer = forms.ModelChoiceField(label="Relecteur", queryset=get_user_model().objects.none(), required=False,
                                      empty_label="Moi-même")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].queryset = get_user_model().objects.filter(is_ans_admin=True, is_active=True)


class ChangesForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "changes"

    comment = forms.CharField(label="Modifications attendues", widget=forms.Textarea(attrs={"rows": 3}),
                              error_messages={"required": CHANGES_REQUIRED})


class RejectForm(SubmissionTokenMixin, DsfrBaseForm):
    prefix = "reject"

    reason = forms.CharField(label="Motif du refus", widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": REFUSAL_REASON_REQUIRED})


class ApproveForm(SubmissionTokenMixin, DsfrBaseForm):
    """Approval; the derogation's reason is required when the declared DRIMbox is not funded (``needs_override``,
    what ``services.approve_request`` refuses to go without)."""

    prefix = "approve"

    override_reason = forms.CharField(
        label="Dérogation de financement (motif)", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="La DRIMbox n'est pas financée : le motif de la dérogation est tracé dans l'historique.",
        error_messages={"required": OVERRIDE_REQUIRED})
    comment = forms.CharField(label="Commentaire pour l'opérateur", required=False)

    def __init__(self, *args, needs_override=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["override_reason"].required = needs_override


RIS_WAVE_CHOICES = [("", "Aucune commande de RIS Vague 2 pour l'instant"), ("vague_2", "RIS Vague 2"),
                    ("vague_1_2", "RIS Vague 1 + 2")]
ACTIVITY_CHOICES = [("oui", "Oui : activité de radiologie ou de médecine nucléaire non nulle en 2023"),
                    ("non", "Non : structure ouverte depuis, qui a repris une structure active en 2023")]


class OrderClientForm(DsfrBaseForm):
    """A client of an order: its identity, its 2023 activity (or the structure it took over), its RIS order."""

    client_siren = forms.CharField(label="SIREN du client", max_length=20)
    client_name = forms.CharField(label="Raison sociale du client", max_length=200)
    activity_2023 = forms.ChoiceField(label="Activité en 2023", choices=ACTIVITY_CHOICES, widget=forms.RadioSelect)
    finess_geographiques = forms.CharField(
        label="FINESS géographiques du client", widget=forms.Textarea(attrs={"rows": 2}), required=False,
        help_text="Un ou plusieurs, séparés par des virgules, des espaces ou des retours à la ligne.")
    am_numbers = forms.CharField(
        label="Numéros AM des médecins", widget=forms.Textarea(attrs={"rows": 2}), required=False,
        help_text="Numéros d'assurance maladie (9 chiffres) des radiologues et médecins nucléaires du client.")
    ris_wave = forms.ChoiceField(label="Commande de RIS du client", choices=RIS_WAVE_CHOICES, required=False,
                                 help_text="La DRIMbox n'est financée que pour un client ayant commandé un RIS "
                                           "Vague 2 (ou Vague 1 + 2).")
    ris_order_reference = forms.CharField(label="Référence de la commande de RIS", max_length=64, required=False)
    takeover_siren = forms.CharField(label="Reprise : SIREN de la structure reprise", max_length=20, required=False,
                                     help_text="Seulement pour une structure ouverte après 2023 qui a repris une "
                                               "structure active en 2023.")
    takeover_name = forms.CharField(label="Reprise : raison sociale de la structure reprise", max_length=200,
                                    required=False)
    takeover_finess_geographiques = forms.CharField(
        label="Reprise : FINESS géographiques de la structure reprise", widget=forms.Textarea(attrs={"rows": 2}),
        required=False)
    takeover_am_numbers = forms.CharField(
        label="Reprise : numéros AM de la structure reprise", widget=forms.Textarea(attrs={"rows": 2}),
        required=False)

    def client_data(self):
        data = dict(self.cleaned_data)
        data["activity_2023"] = data.get("activity_2023") == "oui"
        return data


class FinancingOrderForm(SubmissionTokenMixin, OrderClientForm):
    reference = forms.CharField(label="Référence du bon de commande", max_length=64)
    pacs_identifiers = forms.CharField(
        label="PACS couverts", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Un identifiant de PACS par ligne (un PACS ne figure que dans un seul bon de commande).")
    signed_order = forms.FileField(label="Bon de commande signé (PDF, 5 Mo au plus)", required=False,
                                   help_text="Il peut aussi être joint plus tard ; sans lui la DRIMbox n'est pas "
                                             "financée.")
    field_order = ["reference", "pacs_identifiers", "signed_order"]


class OrderClientAddForm(SubmissionTokenMixin, OrderClientForm):
    """« Ajouter un client » (a creating form: sent twice, it adds once); ``OrderClientForm`` alone edits one."""


class OrderPacsForm(SubmissionTokenMixin, DsfrBaseForm):
    pacs_identifiers = forms.CharField(label="PACS à ajouter", widget=forms.Textarea(attrs={"rows": 2}),
                                       help_text="Un identifiant de PACS par ligne.")


class OrderDocumentForm(SubmissionTokenMixin, DsfrBaseForm):
    kind = forms.ChoiceField(label="Document", choices=[])
    client = forms.ChoiceField(label="Client concerné", choices=[], required=False,
                               help_text="Pour une page de signature ou une preuve de reprise.")
    file = forms.FileField(label="Fichier PDF (5 Mo au plus)")

    def __init__(self, *args, order=None, **kwargs):
        super().__init__(*args, **kwargs)
        from operators.services import DocumentKind
        self.fields["kind"].choices = DocumentKind.CHOICES
        self.fields["client"].choices = [("", "—")] + [
            (str(client.pk), client.label) for client in (order.clients.all() if order is not None else [])]


class OrderCloseForm(SubmissionTokenMixin, DsfrBaseForm):
    reason = forms.CharField(label="Motif de clôture", widget=forms.Textarea(attrs={"rows": 2}))


class VaUploadForm(SubmissionTokenMixin, DsfrBaseForm):
    file = forms.FileField(label="Document VA (PDF, 5 Mo au plus)",
                           error_messages={"required": "Choisissez le document VA à déposer (PDF)."})
    with_reservations = forms.BooleanField(
        label="VA signé avec réserves (RIS du client pas encore en Vague 2)", required=False,
        help_text="Les réserves seront à lever dans les deux mois suivant le signalement, par le client, de la "
                  "mise à jour de son RIS en Vague 2.")


class VaRisUpdateForm(SubmissionTokenMixin, DsfrBaseForm):
    signalled_on = forms.DateField(
        label="Date à laquelle le client a signalé la mise à jour du RIS en Vague 2",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Indiquez la date du signalement.",
                        "invalid": "Indiquez une date valide (jj/mm/aaaa)."})

    def __init__(self, *args, **kwargs):
        from django.utils import timezone

        super().__init__(*args, **kwargs)
        self.fields["signalled_on"].widget.attrs["max"] = timezone.localdate().isoformat()  # not in the future


class VaLiftingUploadForm(SubmissionTokenMixin, DsfrBaseForm):
    file = forms.FileField(
        label="Document de levée des réserves signé par le client (PDF, 5 Mo au plus)",
        error_messages={"required": "Choisissez le document de levée des réserves à déposer (PDF)."})


class VaDecisionForm(SubmissionTokenMixin, DsfrBaseForm):
    """« Valider » a VA or the lifting of its reservations: no field, its submission token only."""


class VaRefuseForm(SubmissionTokenMixin, DsfrBaseForm):
    reason = forms.CharField(label="Motif du refus", max_length=2000,
                             error_messages={"required": REFUSAL_REASON_REQUIRED})


AGE_CHOICES = [("", "Toutes"), ("2", "Plus de 2 jours"), ("7", "Plus de 7 jours"), ("30", "Plus de 30 jours")]


class ReviewQueueFilterForm(FilterForm):
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Tous")] + RequestKind.choices)
    status = forms.ChoiceField(label="Statut", required=False, choices=[("", "À traiter")] + [
        choice for choice in RequestStatus.choices if choice[0] != RequestStatus.DRAFT] + [("toutes", "Tous")])
    operator = forms.CharField(label="Opérateur", required=False, max_length=200)
    age = forms.ChoiceField(label="Ancienneté", required=False, choices=AGE_CHOICES)
    assigned = forms.ChoiceField(label="Affectation", required=False, choices=[
        ("", "Toutes"), ("moi", "Les miennes"), ("aucune", "Non affectées")])


class RegistrySearchForm(FilterForm):
    q = forms.CharField(label="FQDN ou identifiant", required=False, max_length=253)
    operator = forms.CharField(label="Opérateur", required=False, max_length=200)
    structure = forms.CharField(label="Structure de santé", required=False, max_length=200)
    status = forms.ChoiceField(label="Statut", required=False, choices=[("", "Tous")] + DrimboxStatus.choices)
    dns = forms.ChoiceField(label="DNS", required=False, choices=[("", "Tous"), ("en_attente", "DNS en attente")])


class AttestationCheckForm(DsfrBaseForm):
    code = forms.CharField(label="Code de vérification", max_length=40, help_text="Ex. ATT-ABCD-EFGH-JKMN")
