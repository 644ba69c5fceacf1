"""Checks on uploaded documents: size-limited and validated by content, never by name alone."""
from django.conf import settings

from .errors import InvalidData


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
