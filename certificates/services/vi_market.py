"""`vi` certificates from any public CA (« Autorité du marché »): uploaded by a technical administrator, public
part only, stored only when every rule passes; they supersede the current `vi` certificate, whatever its source.
The portal does not renew them (``vi.renew_vi_certificates`` renews ACME ones only): expiry notices remind."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from certificates import trust
from certificates.models import Certificate, CertificateKind, CertificateSource
from certificates.services.inventory import (
    CertificateRejected,
    checks_json,
    manageable,
    read_upload,
    require_viewer,
    store_certificate,
)
from certificates.validation import RuleResult, check_vi_market_certificate, level_of, parse_certificate_upload
from operators.models import Drimbox
from trustspace.models import User


def evaluate_vi_market_certificate(drimbox: Drimbox, leaf: x509.Certificate, extra_chain: Sequence[x509.Certificate],
                                   *, at: datetime | None = None) -> list[RuleResult]:
    at = at or timezone.now()
    return check_vi_market_certificate(
        leaf, extra_chain=list(extra_chain), anchors=list(trust.market_anchors()), expected_fqdn=drimbox.vi_fqdn,
        at=at, revocation_status=trust.market_revocation_status(now=at))


def upload_vi_certificate(drimbox: Drimbox, *, acting_user: User, uploaded_file: UploadedFile | bytes | None,
                          ) -> Certificate:
    """Validate a market certificate for the DRIMbox's `vi` name and store it if every rule passes."""
    drimbox = manageable(drimbox, acting_user)
    require_viewer(drimbox)
    leaf, *extra_chain = read_upload(uploaded_file, parse_certificate_upload)
    checks = checks_json(evaluate_vi_market_certificate(drimbox, leaf, extra_chain))
    if any(check["ok"] is False for check in checks):
        raise CertificateRejected("Le certificat ne respecte pas les règles du nom vi.", checks)
    with transaction.atomic():
        return store_certificate(drimbox=drimbox, kind=CertificateKind.VI, source=CertificateSource.MARKET,
                                 leaf=leaf, chain=extra_chain, checks=checks, acting_user=acting_user,
                                 reason="dépôt (autorité du marché)", validation_level=level_of(leaf))
