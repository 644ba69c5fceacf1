"""What each kind of request carries, and how it is checked (one place for the UI and the API).

A request's ``data`` is a dict of strings. Drafts may be incomplete but never malformed;
submission needs every required field.
"""
from django.core.exceptions import ValidationError
from django.db.models import Q

from trustspace.errors import InvalidData
from trustspace.text import display_text_error

from .addresses import parse_addresses
from .eligibility import declaration_problems
from .models import ONBOARDING_KINDS, AttachmentKind, FinancingOrder, FinancingOrderStatus, Operator, RequestKind
from .validators import (
    ENTITY_FORMATS,
    as_small_int,
    compact_digits,
    normalize_card_reference,
    validate_card_number,
    validate_contact,
    validate_finess,
    validate_siren,
)

DECLARATION_FIELDS = [
    "structure_name", "structure_siren", "structure_finess_juridique", "structure_finess_geographique",
    "pacs", "financing_order", "db_addresses", "vi_addresses", "responsable_contact", "support_contact",
]
# Whether the declared DRIMbox has a viewer (« oui » / « non »): decided at declaration, kept by a switch.
VIEWER_FIELD = "has_viewer"
VIEWER_VALUES = {"oui": "oui", "non": "non", "true": "oui", "false": "non", "1": "oui", "0": "non"}
# The legal entity (the very fields and rules of an Operator), who represents it, and the contract version accepted.
ENTITY_FIELDS = ["name", "siren", "siret", "id_nat_struct", "address_line", "postal_code", "city", "contact_email",
                 "contact_phone"]
APPLICATION_FIELDS = [*ENTITY_FIELDS, "representative_name", "representative_function", "legal_rep_card",
                      "contract_version"]
APPLICATION_REQUIRED = ["name", "siren", "id_nat_struct", "address_line", "postal_code", "city", "contact_email",
                        "representative_name", "representative_function", "contract_version"]
FIELDS = {
    RequestKind.ADHESION: APPLICATION_FIELDS,
    RequestKind.ATTACHMENT: APPLICATION_FIELDS,
    RequestKind.DECLARATION: [*DECLARATION_FIELDS[:7], VIEWER_FIELD, *DECLARATION_FIELDS[7:]],
    RequestKind.SWITCH: DECLARATION_FIELDS,
    RequestKind.INTEGRATION: ["message"],
    RequestKind.UPDATE: ["db_addresses", "vi_addresses", "responsable_contact", "support_contact"],
    RequestKind.WITHDRAWAL: ["reason"],
    RequestKind.REINTEGRATION: ["db_addresses", "vi_addresses", "responsable_contact", "support_contact"],
}
REQUIRED = {
    RequestKind.ADHESION: APPLICATION_REQUIRED,
    RequestKind.ATTACHMENT: APPLICATION_REQUIRED,
    RequestKind.DECLARATION: ["structure_name", "structure_siren", "pacs", "db_addresses", "support_contact"],
    RequestKind.SWITCH: ["structure_name", "structure_siren", "pacs", "db_addresses", "support_contact"],
    RequestKind.INTEGRATION: [],
    RequestKind.UPDATE: ["db_addresses", "support_contact"],
    RequestKind.WITHDRAWAL: ["reason"],
    RequestKind.REINTEGRATION: ["db_addresses", "support_contact"],
}
# The pieces a request needs to be submitted: {name of the form field that takes it: its kind}; its message when
# missing. (An application's card or proof of power, either one, is ``onboarding.check_submittable``'s.)
REQUIRED_PIECES = {
    RequestKind.DECLARATION: {"cgi": AttachmentKind.CGI},
    RequestKind.SWITCH: {"cgi": AttachmentKind.CGI},
    RequestKind.ADHESION: {"contract_document": AttachmentKind.CONTRACT},
    RequestKind.ATTACHMENT: {"contract_document": AttachmentKind.CONTRACT},
}
MISSING_PIECE = {
    AttachmentKind.CGI: "Joignez les Conditions Générales d'Intégration signées pour cette installation (PDF).",
    AttachmentKind.CONTRACT: "Joignez le contrat d'adhésion signé (PDF).",
}


def required_to_submit(kind):
    """Every field and piece a request of ``kind`` needs to be submitted: what its form marks as required and what
    ``services.submit_request`` refuses to go without (one rule for both)."""
    kind = RequestKind(kind)
    return [*REQUIRED[kind], *REQUIRED_PIECES.get(kind, {})]


LABELS = {
    "structure_name": "raison sociale de la structure",
    "structure_siren": "SIREN de la structure",
    "structure_finess_juridique": "FINESS juridique",
    "structure_finess_geographique": "FINESS géographique",
    "pacs": "identifiant du PACS",
    "financing_order": "bon de commande",
    "db_addresses": "adresse db",
    "has_viewer": "la DRIMbox a une visionneuse (nom vi)",
    "vi_addresses": "adresse vi",
    "responsable_contact": "contact responsable",
    "support_contact": "contact support",
    "reason": "motif",
    "message": "message",
    "name": "raison sociale",
    "siren": "SIREN",
    "siret": "SIRET du siège",
    "id_nat_struct": "idNat_Struct",
    "address_line": "adresse",
    "postal_code": "code postal",
    "city": "commune",
    "contact_email": "courriel de contact",
    "contact_phone": "téléphone de contact",
    "representative_name": "nom du représentant légal",
    "representative_function": "fonction du représentant légal",
    "legal_rep_card": "numéro de la carte de représentant légal",
    "contract_version": "version du contrat d'adhésion acceptée",
}
# Fields with a format of their own: {field: check}, a check returns the value in its normal form (None: as is)
# or raises ValidationError. The operator's postal code and phone; the contacts published in the whitelist.
FORMATS = {**ENTITY_FORMATS, "support_contact": validate_contact, "responsable_contact": validate_contact}
# Free text that may span lines (tab and line breaks allowed; other control characters never).
MULTILINE_FIELDS = {"reason", "message", "db_addresses", "vi_addresses"}
# As typed (a postal code may be typed « 75 001 »; it is stored in its normal form).
MAX_LENGTH = {"name": 200, "siren": 20, "siret": 20, "id_nat_struct": 32, "address_line": 255, "postal_code": 10,
              "city": 100, "contact_email": 254, "contact_phone": 30, "representative_name": 150,
              "representative_function": 100, "legal_rep_card": 40, "contract_version": 20,
              "structure_name": 200, "pacs": 100, "responsable_contact": 255, "support_contact": 255,
              "reason": 2000, "message": 2000}


def usable_orders(operator, drimbox=None):
    """Orders a declaration may name: the operator's own, and for a switch the DRIMbox's current one
    (one order per client: the order follows the DRIMbox to its new operator)."""
    query = Q(operator=operator)
    if drimbox is not None and drimbox.financing_order_id:
        query |= Q(pk=drimbox.financing_order_id)
    return FinancingOrder.objects.filter(query, status=FinancingOrderStatus.ACTIVE)


def _storable(text):
    """Text PostgreSQL and JSON can hold: no NUL character, no lone surrogate."""
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def clean_data(kind, data, *, operator, for_submit, drimbox=None):
    """Normalise and check ``data`` for ``kind``; raises :class:`InvalidData` naming the fields."""
    fields = FIELDS[RequestKind(kind)]
    if not isinstance(data or {}, dict):
        raise InvalidData("Les données de la demande doivent être un objet de champs.")
    for key, value in (data or {}).items():
        if not isinstance(key, str) or not _storable(key) or (isinstance(value, str) and not _storable(value)):
            raise InvalidData("Les données contiennent des caractères invalides (caractère nul ou Unicode mal formé).")
        if value is not None and not isinstance(value, str | int):
            raise InvalidData(f"Le champ « {LABELS.get(key, key)} » doit être un texte.",
                              field_errors={key: ["Ce champ doit être un texte."]})
    unknown = sorted(set(data or {}) - set(fields))
    if unknown:
        raise InvalidData(f"Champs inconnus pour ce type de demande : {', '.join(unknown)}.")
    cleaned = {}
    errors = {}
    for field in fields:
        value = (data or {}).get(field, "")
        value = "" if value is None else str(value).strip()
        if field in {"structure_siren", "structure_finess_juridique", "structure_finess_geographique", "siren",
                     "siret"}:
            value = compact_digits(value).upper()
        if field == "legal_rep_card":
            value = normalize_card_reference(value)
        cleaned[field] = value
        if len(value) > MAX_LENGTH.get(field, 500):
            errors[field] = [f"Le champ « {LABELS[field]} » est trop long."]
        elif forbidden := display_text_error(value, multiline=field in MULTILINE_FIELDS):
            errors[field] = [forbidden]  # published (whitelist contacts) or shown to ANS: no bidi/control characters
        elif value and (check := FORMATS.get(field)):
            try:
                cleaned[field] = check(value) or value
            except ValidationError as exc:
                errors[field] = exc.messages
    validators = {"structure_siren": validate_siren, "structure_finess_juridique": validate_finess,
                  "structure_finess_geographique": validate_finess}
    for field, validator in validators.items():
        if cleaned.get(field):
            try:
                validator(cleaned[field])
            except ValidationError as exc:
                errors[field] = exc.messages
    if VIEWER_FIELD in cleaned:
        value = VIEWER_VALUES.get((cleaned[VIEWER_FIELD] or "oui").lower())
        if value is None:
            errors[VIEWER_FIELD] = ["Indiquez « oui » ou « non » : la DRIMbox a-t-elle une visionneuse (nom vi) ?"]
        cleaned[VIEWER_FIELD] = value or cleaned[VIEWER_FIELD]
    if "vi_addresses" in cleaned and cleaned["vi_addresses"] and not has_viewer(kind, cleaned, drimbox):
        errors["vi_addresses"] = ["Une DRIMbox sans visionneuse n'a pas de nom vi : laissez l'adresse vi vide."]
    for field in ("db_addresses", "vi_addresses"):
        if cleaned.get(field) and field not in errors:
            try:
                parse_addresses(cleaned[field], label=LABELS[field])
            except InvalidData as exc:
                errors[field] = [exc.message]
    if kind in ONBOARDING_KINDS:
        _check_entity(cleaned, errors, for_submit=for_submit)
    if cleaned.get("financing_order"):
        switched = drimbox if kind == RequestKind.SWITCH else None
        if not usable_orders(operator, switched).filter(pk=as_small_int(cleaned["financing_order"])).exists():
            errors["financing_order"] = ["Ce bon de commande n'existe pas chez votre opérateur."]
    if for_submit:
        for field in REQUIRED[RequestKind(kind)]:
            if not cleaned.get(field) and field not in errors:
                errors[field] = [f"Le champ « {LABELS[field]} » est obligatoire."]
    if errors:
        messages = [message for field_messages in errors.values() for message in field_messages]
        raise InvalidData(" ".join(messages), field_errors=errors)
    return cleaned


def _check_entity(cleaned, errors, *, for_submit):
    """The legal entity is checked by the Operator model itself, so an approved application always saves."""
    entity = Operator(**{field: cleaned[field] for field in ENTITY_FIELDS})
    skipped = [field for field in ENTITY_FIELDS if field in errors or (not for_submit and not cleaned[field])]
    try:
        entity.full_clean(exclude=[*skipped, "support_contact"], validate_unique=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field not in skipped:  # the model's clean() sees every field, the excluded ones too
                errors.setdefault("siret" if field == "__all__" else field, []).extend(messages)
    if cleaned.get("legal_rep_card") and "legal_rep_card" not in errors:
        try:
            validate_card_number(cleaned["legal_rep_card"])
        except ValidationError as exc:
            errors["legal_rep_card"] = exc.messages


def has_viewer(kind, data, drimbox=None):
    """Does the DRIMbox of a request have a viewer? A declaration says so; any other request keeps the DRIMbox's."""
    if kind == RequestKind.DECLARATION or drimbox is None:
        return (data or {}).get(VIEWER_FIELD, "oui") != "non"
    return drimbox.has_viewer


def order_of(data):
    value = (data or {}).get("financing_order") or ""
    pk = as_small_int(value)
    return FinancingOrder.objects.filter(pk=pk).prefetch_related("pacs", "clients__sites").first() if pk else None


def eligibility_problems(data, *, order=None):
    """Why the DRIMbox a declaration describes is not funded (empty: funded), DESIGN §5.
    ``order``: the order the data names, when the caller has already read it."""
    data = data or {}
    return declaration_problems(order or order_of(data), siren=data.get("structure_siren") or "",
                                finess=data.get("structure_finess_geographique") or "", pacs=data.get("pacs") or "")
