"""Text shown to others must read as it is stored.

Bidirectional controls (U+202E…) reorder what a reader sees (« Trojan Source »), invisible format characters
make two different names look the same, control characters break lines, logs and XML. The services call
:func:`validate_display_text` on every field that is published or shown to someone else, so the UI, the API
and the commands refuse them alike, with a French message on the field.
"""
import unicodedata

from .errors import InvalidData

# Line breaks and tabs: allowed in multi-line fields (comments, contract text), refused elsewhere.
MULTILINE_WHITESPACE = frozenset("\t\n\r")
# The bidirectional controls (all format characters, Cf), named here for the tests and the reader.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Names unicodedata does not give (control characters have none in the Unicode name list).
_CONTROL_NAMES = {
    "\x00": "NULL", "\t": "CHARACTER TABULATION", "\n": "LINE FEED", "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED", "\r": "CARRIAGE RETURN", "\x1b": "ESCAPE", "\x7f": "DELETE", "\x85": "NEXT LINE",
}
_CATEGORY_NAMES = {"Cc": "CONTROL", "Cs": "SURROGATE", "Co": "PRIVATE USE", "Cn": "UNASSIGNED"}


def describe_character(ch):
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: the code point and its Unicode name."""
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(ch) or _CATEGORY_NAMES.get(unicodedata.category(ch), "")
    return f"U+{ord(ch):04X} {name}".strip()


def find_forbidden_character(value, *, multiline=False):
    """The first character of ``value`` that must not be shown to others, or None.

    Refused: control characters (Cc; tab and line breaks allowed when ``multiline``), every format character
    (Cf: bidi controls, zero-width spaces and joiners, BOM, soft hyphen…), surrogates (Cs), private-use (Co)
    and unassigned code points (Cn), and the Unicode line/paragraph separators (Zl, Zp).
    """
    if not isinstance(value, str):
        return None
    for ch in value:
        # Fast path: isprintable() is False for every category refused below (and for spaces other than U+0020).
        if ch.isprintable() or (multiline and ch in MULTILINE_WHITESPACE):
            continue
        category = unicodedata.category(ch)
        if category in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
            return ch
    return None


def remove_forbidden_characters(value, *, multiline=False):
    """``value`` without the characters :func:`find_forbidden_character` refuses: for text the portal does not
    choose to refuse, e.g. the names an identity provider sends at login."""
    if not isinstance(value, str) or find_forbidden_character(value, multiline=multiline) is None:
        return value
    return "".join(ch for ch in value if find_forbidden_character(ch, multiline=multiline) is None)


def forbidden_character_message(ch):
    """The French message shown on a field that holds ``ch``."""
    described = describe_character(ch)
    category = unicodedata.category(ch)
    if ch in MULTILINE_WHITESPACE:
        return f"Retour à la ligne ou tabulation interdit dans ce champ ({described})."
    if category in {"Zl", "Zp"}:
        return f"Séparateur Unicode interdit ({described}) : utilisez un retour à la ligne ordinaire."
    if category in {"Cc", "Cf"}:
        return f"Caractère de contrôle interdit ({described}) : il pourrait tromper la lecture de ce texte."
    return f"Caractère interdit ({described}) : il ne s'affiche pas de la même façon partout."


def display_text_error(value, *, multiline=False):
    """The French message for ``value``, or None when it may be shown."""
    ch = find_forbidden_character(value, multiline=multiline)
    return None if ch is None else forbidden_character_message(ch)


def validate_display_text(fields, *, multiline=(), labels=None):
    """Raise :class:`InvalidData` naming every field of ``fields`` ({name: text}) that holds a forbidden character.

    ``multiline``: names of fields where tab and line breaks are allowed. ``labels``: {name: French label} for
    the overall message (the field name otherwise).
    """
    field_errors = {}
    for name, value in fields.items():
        message = display_text_error(value, multiline=name in multiline)
        if message:
            field_errors[name] = [message]
    if field_errors:
        labels = labels or {}
        named = ", ".join(f"« {labels.get(name, name)} »" for name in field_errors)
        first = next(iter(field_errors.values()))[0]
        raise InvalidData(f"Texte refusé ({named}). {first}", code="forbidden_character", field_errors=field_errors)


def validate_model_text(instance, *, exclude=None):
    """:func:`validate_display_text` on every text field of a model instance (a TextField may span lines)."""
    from django.db import models

    exclude = set(exclude or ())
    fields, multiline, labels = {}, set(), {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude or not isinstance(field, models.CharField | models.TextField):
            continue
        fields[field.name] = getattr(instance, field.attname)
        labels[field.name] = str(field.verbose_name)
        if isinstance(field, models.TextField):
            multiline.add(field.name)
    validate_display_text(fields, multiline=multiline, labels=labels)


def plural(count: int, singular: str, plural_form: str) -> str:
    """« 1 représentant légal », « 2 représentants légaux »: French takes the singular for 0 and 1."""
    return f"{count} {singular if count < 2 else plural_form}"
