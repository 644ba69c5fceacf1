"""The one write path for certificates (DESIGN §3, §6): callers write ``from certificates import services``.

`db` certificates enter the inventory only when every rule passes (``db``); `vi` certificates are issued
by the ACME client from a CSR, in a task (``vi``, ``acme``), uploaded from any public CA (``vi_market``), or
discovered by the prober on the `vi` endpoint (``vi_discovery``, the same rules as an upload).
Revocations (``revocations``), expiry and quarterly notices (``notices``), the acme-dns challenge API
(``acme_dns``) and the CRL cache (``crls``) all go through here; ``inventory`` holds what they share.
"""
from certificates.services.acme import acme_account
from certificates.services.acme_dns import acme_dns_update, register_acme_dns
from certificates.services.crls import fetch_crl, refresh_crls
from certificates.services.db import upload_db_certificate
from certificates.services.inventory import CertificateRejected
from certificates.services.notices import send_expiry_notices, send_quarterly_export_notices
from certificates.services.revocations import (
    close_impossible_revocation,
    process_pending_revocations,
    process_revocations,
    recheck_db_certificates,
    revoke_certificate,
)
from certificates.services.vi import (
    current_vi_chain,
    process_vi_orders,
    record_issued_vi_certificate,
    renew_vi_certificates,
    request_vi_certificate,
)
from certificates.services.vi_discovery import Discovery, record_presented_vi_certificate
from certificates.services.vi_market import upload_vi_certificate

__all__ = [
    "CertificateRejected",
    "Discovery",
    "acme_account",
    "acme_dns_update",
    "close_impossible_revocation",
    "current_vi_chain",
    "fetch_crl",
    "process_pending_revocations",
    "process_revocations",
    "process_vi_orders",
    "recheck_db_certificates",
    "record_issued_vi_certificate",
    "record_presented_vi_certificate",
    "refresh_crls",
    "register_acme_dns",
    "renew_vi_certificates",
    "request_vi_certificate",
    "revoke_certificate",
    "send_expiry_notices",
    "send_quarterly_export_notices",
    "upload_db_certificate",
    "upload_vi_certificate",
]
