"""The contract of adhesion as a tagged, archivable PDF (trustspace.pdf): one published version, with the operator's
acceptance of it when there is one."""
from django.utils import timezone


def render_contract(contract, *, operator=None, acceptance=None) -> bytes:
    from trustspace.pdf import render_pdf  # WeasyPrint is loaded by the processes that make documents only

    produced_at = timezone.now()
    return render_pdf("operators/pdf/contract.html", {
        "contract": contract, "operator": operator, "acceptance": acceptance, "produced_at": produced_at,
    }, created=produced_at)


def contract_filename(contract) -> str:
    version = "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in contract.version)
    return f"contrat-adhesion-{version}.pdf"
