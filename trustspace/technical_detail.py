"""An error people read in French, with the outside party's own words kept apart as a technical detail.

Errors from the ACME CA (Pebble, Let's Encrypt), GitHub or other services arrive in English. The portal stores
and shows a French message, and keeps the original for whoever investigates: ``with_detail`` writes both into
one text column (``last_error``…) behind a fixed label, ``split_detail`` takes them apart again, and the
``{% error_with_detail %}`` tag (``trustspace.templatetags.technical_detail``) shows the message with the
original folded in a « Détail technique » element. Texts stored before this convention, with the original
inline in parentheses, are taken apart the same way.
"""
from __future__ import annotations

import errno
import re

LABEL = "Détail technique : "
SEPARATOR = "\n\n" + LABEL
# Earlier rows: « … (réponse de l'autorité : Unable to find specified certificate). », « … (GitHub : Not Found) ».
_INLINE = re.compile(r"^(?P<message>.*?) \((?:réponse de l'autorité|GitHub) : (?P<detail>.+)\)(?P<end>\.?)$",
                     re.DOTALL)


def with_detail(message: str, detail: str | None = None, *, limit: int = 2000) -> str:
    """``message`` (French) and the original ``detail`` in one text of at most ``limit`` characters; the detail
    is what gets cut when the whole is too long, never the message."""
    message = message.strip()
    detail = (detail or "").strip()
    if not detail or detail == message:
        return message[:limit]
    room = limit - len(message) - len(SEPARATOR)
    if room <= 0:
        return message[:limit]
    return message + SEPARATOR + (detail if len(detail) <= room else detail[:room - 1] + "…")


def split_detail(text: str | None) -> tuple[str, str]:
    """(French message, technical detail or "") of a text written by ``with_detail`` (or an earlier inline one)."""
    text = (text or "").strip()
    message, found, detail = text.partition(SEPARATOR)
    if found:
        return message.strip(), detail.strip()
    inline = _INLINE.match(text)
    if inline:
        return inline["message"].rstrip(".") + ".", inline["detail"].strip()
    return text, ""


def error_text(exc: BaseException, fallback: str, *, limit: int = 2000) -> str:
    """The text to store for a failure: its French ``message`` and outside ``detail`` (AcmeError, GitHubFailure),
    a DnsError's ``french`` with dnspython's words as the detail, or ``fallback`` (French) with the exception as
    the detail — never an English text in the message."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        detail = getattr(exc, "detail", None)
        return with_detail(message, detail if isinstance(detail, str) else None, limit=limit)
    french = getattr(exc, "french", None)
    if isinstance(french, str) and french:
        return with_detail(french[:1].upper() + french[1:] + ".", str(exc), limit=limit)
    return with_detail(fallback, f"{type(exc).__name__} : {exc}", limit=limit)


_OS_ERRORS = {
    errno.ENOENT: "fichier ou dossier absent",
    errno.EACCES: "accès refusé",
    errno.EPERM: "opération non permise",
    errno.EISDIR: "c'est un dossier, pas un fichier",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EIO: "erreur d'entrée-sortie",
    errno.ENOSPC: "plus de place sur le disque",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ELOOP: "trop de liens symboliques",
    errno.ENAMETOOLONG: "chemin trop long",
}


def os_error_french(exc: OSError) -> str:
    """An OSError's cause in French (its ``strerror`` is English: « Permission denied »)."""
    if exc.errno is None:
        return f"erreur système {type(exc).__name__}"
    return _OS_ERRORS.get(exc.errno) or f"erreur système {errno.errorcode.get(exc.errno, exc.errno)}"
