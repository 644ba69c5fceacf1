"""French identifiers (DESIGN §4), checked with python-stdnum, and the field errors a form collects."""
from django.core.exceptions import ValidationError
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
