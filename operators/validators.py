"""French identifiers (DESIGN §4), checked with python-stdnum; postal codes, phones and e-mail addresses; and the
field errors a form collects."""
import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren, siret

from trustspace.errors import InvalidData

# idNat_Struct type prefixes (the OU of IGC-Santé certificates).
ID_NAT_STRUCT_TYPES = {
    "0": "Cabinet ADELI",
    "1": "FINESS",
    "2": "SIREN",
    "3": "SIRET",
    "4": "Cabinet RPPS (rang)",
    "5": "FINESS juridique",
    "6": "FINESS géographique",
}


def all_field_errors(errors: dict[str, list[str]]) -> InvalidData:
    """Every problem collected for a form at once: one message, each on its field."""
    return InvalidData(" ".join(m for ms in errors.values() for m in ms), field_errors=errors)


def compact_digits(value):
    return "".join(str(value).split())


def validate_siren(value):
    try:
        siren.validate(value)
    except StdnumError as exc:
        raise ValidationError("Le SIREN « %(value)s » n'est pas valide (9 chiffres, clé de Luhn).",
                              params={"value": value}) from exc


def validate_siret(value):
    try:
        siret.validate(value)
    except StdnumError as exc:
        raise ValidationError(
            "Le SIRET « %(value)s » n'est pas valide (14 chiffres, clé de Luhn).", params={"value": value}
        ) from exc


def is_valid_finess(value):
    """FINESS: 9 characters, department prefix (2A/2B for Corsica), Luhn check digit."""
    value = str(value).upper()
    if len(value) != 9:
        return False
    digits = (value.replace("2A", "20", 1) if value.startswith("2A")
              else value.replace("2B", "20", 1) if value.startswith("2B") else value)
    if not digits.isdigit():
        return False
    return luhn.is_valid(digits)


def validate_finess(value):
    if not is_valid_finess(value):
        raise ValidationError("Le numéro FINESS « %(value)s » n'est pas valide.", params={"value": value})


def is_valid_am_number(value):
    """A physician's assurance-maladie number: 9 digits whose first two are a department code.

    No public rule for its last (key) digit or for its category digit was found, so neither is checked.
    """
    value = str(value)
    if len(value) != 9 or not value.isdigit():
        return False
    department = int(value[:2])
    return 1 <= department <= 95 or department in {97, 98, 99}


def validate_am_number(value):
    if not is_valid_am_number(value):
        raise ValidationError("Le numéro AM « %(value)s » n'est pas valide (9 chiffres, commençant par le numéro du "
                              "département).", params={"value": value})


def validate_id_nat_struct(value):
    """A one-digit type prefix followed by the identifier; no fixed length (DESIGN §4)."""
    value = str(value)
    if len(value) < 2 or not value[0].isdigit() or value[0] not in ID_NAT_STRUCT_TYPES:
        raise ValidationError(
            "L'idNat_Struct doit commencer par un chiffre de type (0 à 6) suivi de l'identifiant de la structure."
        )
    kind, ident = value[0], value[1:]
    checks = {"2": siren.is_valid, "3": siret.is_valid, "1": is_valid_finess, "5": is_valid_finess,
              "6": is_valid_finess}
    check = checks.get(kind)
    if check and not check(ident):
        raise ValidationError(
            "L'idNat_Struct « %(value)s » annonce un %(kind)s, mais « %(ident)s » n'en est pas un valide.",
            params={"value": value, "kind": ID_NAT_STRUCT_TYPES[kind], "ident": ident},
        )
    if kind in {"0", "4"} and not ident.isalnum():
        raise ValidationError("L'idNat_Struct « %(value)s » contient des caractères invalides.",
                              params={"value": value})


def as_small_int(value):
    """``value`` as an int when it is a plain decimal that fits an id column, else None (never raises)."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    return int(text)


# Card references (DESIGN §5). A CPx card (CPS, CPA, carte de représentant légal) is identified by the
# 10-digit number printed on it; an IGC-Santé habilitation by the reference ANS issued (letters, digits
# and separators, at least one digit).
CARD_NUMBER_DIGITS = 10


def normalize_card_reference(value):
    """Spaces dropped, letters upper-cased: « 80 0123 4567 » and « 8001234567 » are one card."""
    return "".join(str(value or "").split()).upper()


def validate_card_number(value):
    """A CPx card number (legal representative's card, CPA): 10 digits."""
    if not (value.isascii() and value.isdigit() and len(value) == CARD_NUMBER_DIGITS):
        raise ValidationError(
            "Le numéro de carte « %(value)s » n'est pas valide : il compte 10 chiffres (imprimés sur la carte).",
            params={"value": value[:40]})


def validate_card_or_habilitation(value):
    """A technical administrator's CPA card number (10 digits) or IGC-Santé habilitation reference."""
    if value.isascii() and value.isdigit():
        validate_card_number(value)
        return
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/._")
    if (not 6 <= len(value) <= 40 or not value.isascii() or not set(value) <= allowed or not value[0].isalnum()
            or not any(ch.isdigit() for ch in value)):
        raise ValidationError(
            "Indiquez le numéro de votre carte CPA (10 chiffres) ou la référence de votre habilitation IGC-Santé "
            "(6 à 40 lettres, chiffres ou tirets).")


# --- Addresses, phones, e-mails (operators' entity, contacts published in the whitelist) ----------------------

# A French postal code: 5 digits; metropolitan departments 01 to 95 (Corsica 20), the overseas departments and
# collectivities 971 to 978, and the Pacific and southern territories 984, 986, 987, 988.
POSTAL_CODE = re.compile(r"^(?:(?:0[1-9]|[1-8]\d|9[0-5])\d{3}|97[1-8]\d{2}|98[4678]\d{2})$")
POSTAL_CODE_MESSAGE = ("Le code postal « %(value)s » n'est pas valide : 5 chiffres, par exemple 75001 (97100 pour "
                       "la Guadeloupe).")
PHONE_MESSAGE = ("Le numéro de téléphone « %(value)s » n'est pas valide : 10 chiffres pour un numéro français (par "
                 "exemple 01 23 45 67 89) ; pour l'étranger, le format international + indicatif (par exemple "
                 "+32 2 123 45 67).")
# What people put between the digits of a phone number: spaces (also non-breaking), dots, hyphens, slashes.
PHONE_SEPARATORS = re.compile(r"[\s.\-/\u00a0\u202f]")
E164_DIGITS = range(7, 16)  # an E.164 number: country code and subscriber number, 15 digits at most


def clean_postal_code(value):
    """``value`` as a French postal code (spaces dropped), or ValidationError."""
    compact = "".join(str(value or "").split())
    if compact and not POSTAL_CODE.match(compact):
        raise ValidationError(POSTAL_CODE_MESSAGE, code="invalid_postal_code", params={"value": str(value)[:40]})
    return compact


def clean_phone(value):
    """``value`` as a phone number: a French one in its national form (« 01 23 45 67 89 », also when written
    +33…), any other in E.164 (« +3221234567 »); ValidationError otherwise. Empty stays empty."""
    text = str(value or "").strip()
    if not text:
        return ""
    compact = PHONE_SEPARATORS.sub("", text).replace("(0)", "").replace("(", "").replace(")", "")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    international = compact.startswith("+")
    digits = compact.removeprefix("+")
    if digits.isascii() and digits.isdigit():
        if international and digits.startswith("33"):  # a French number written internationally
            international, digits = False, "0" + digits[2:] if digits[2:3] != "0" else ""
        if international and len(digits) in E164_DIGITS and digits[0] != "0":
            return "+" + digits
        if not international and len(digits) == 10 and digits[0] == "0" and digits[1] != "0":
            return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
    raise ValidationError(PHONE_MESSAGE, code="invalid_phone", params={"value": text[:40]})


# The operator's fields stored in a normal form: {field: its normaliser (raises ValidationError)}.
ENTITY_FORMATS = {"postal_code": clean_postal_code, "contact_phone": clean_phone}


def validate_postal_code(value):
    clean_postal_code(value)


def validate_phone(value):
    clean_phone(value)


def validate_email(value):
    """An e-mail address (Django's rules), said in French with the address."""
    try:
        EmailValidator()(value)
    except ValidationError as exc:
        raise ValidationError("L'adresse de courriel « %(value)s » n'est pas valide.", code="invalid_email",
                              params={"value": str(value)[:80]}) from exc


# A contact published in the whitelist is free text (« Support, support@exemple.fr, 01 23 45 67 89 »): each
# address in it must be one, and it must give at least one way to reach someone.
EMAIL_IN_TEXT = re.compile(r"[^\s,;:<>()\[\]\"']*@[^\s,;:<>()\[\]\"']*")
PHONE_IN_TEXT = re.compile(r"(?:\+|00)\d[\d .\-/()\u00a0]{5,}\d|0[1-9](?:[ .\-\u00a0]?\d){8}")
CONTACT_MESSAGE = ("Indiquez au moins un courriel ou un numéro de téléphone, par exemple « support@exemple.fr, "
                   "01 23 45 67 89 ».")


def validate_contact(value):
    """A contact text: every e-mail address in it valid, and at least one e-mail address or phone number."""
    text = str(value or "")
    reachable = False
    for address in EMAIL_IN_TEXT.findall(text):
        validate_email(address.rstrip("."))
        reachable = True
    for number in PHONE_IN_TEXT.findall(text):
        try:
            clean_phone(number)
        except ValidationError:
            continue
        reachable = True
    if not reachable:
        raise ValidationError(CONTACT_MESSAGE, code="unreachable_contact")
