"""Checks on uploaded documents: size-limited and validated by content, never by name alone."""
from django.conf import settings

from .errors import InvalidData
from .text import remove_forbidden_characters


def validate_pdf(uploaded, *, field="document", label="Le document"):
    """Accept only a PDF file within MAX_UPLOAD_BYTES; raise InvalidData with a French message otherwise."""
    limit = settings.MAX_UPLOAD_BYTES
    if uploaded is None:
        raise InvalidData(f"{label} est obligatoire.", field_errors={field: [f"{label} est obligatoire."]})
    if uploaded.size > limit:
        message = f"{label} dépasse la taille maximale autorisée ({limit // (1024 * 1024)} Mo)."
        raise InvalidData(message, code="file_too_large", field_errors={field: [message]})
    uploaded.seek(0)
    head = uploaded.read(1024)
    uploaded.seek(max(uploaded.size - 2048, 0))
    tail = uploaded.read()
    uploaded.seek(0)
    if not head.startswith(b"%PDF-") or b"%%EOF" not in tail:
        message = f"{label} doit être un fichier PDF."
        raise InvalidData(message, code="not_pdf", field_errors={field: [message]})
    return uploaded


def shown_file_name(uploaded, default, *, max_length=200):
    """The name of an uploaded file as the portal shows it (link text, timeline, audit): what the sender called it,
    without the bidi or control characters that would disguise it (a U+202E making « …fdp.exe » read « …exe.pdf »),
    else ``default``. The multipart parser already drops them; other callers (commands, tests) may not."""
    return remove_forbidden_characters(getattr(uploaded, "name", "") or "").strip()[:max_length] or default
