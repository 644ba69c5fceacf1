"""The attestation de délégation as a tagged, archivable PDF (trustspace.pdf), from the attestation's own snapshot."""
from urllib.parse import urlencode


def render_attestation(attestation, *, check_url):
    """PDF bytes; ``check_url`` is the public page where anyone checks the reference code (the link in the PDF
    opens it with the code filled in)."""
    from trustspace.pdf import render_pdf  # WeasyPrint is loaded by the processes that make documents only

    return render_pdf("operators/pdf/attestation.html", {
        "attestation": attestation, "check_url": check_url,
        "check_link": f"{check_url}?{urlencode({'code': attestation.code})}",
    }, created=attestation.issued_at)
