"""`db` certificates (IGC-Santé): uploaded by a technical administrator, stored only when every rule passes."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from certificates import trust
from certificates.models import Certificate, CertificateKind, CertificateSource
from certificates.services.inventory import CertificateRejected, checks_json, manageable, read_upload, store_certificate
from certificates.validation import RuleResult, check_db_certificate, parse_certificate_upload
from operators.models import Drimbox
from trustspace.models import User


def evaluate_db_certificate(drimbox: Drimbox, leaf: x509.Certificate, extra_chain: Sequence[x509.Certificate], *,
                            at: datetime | None = None) -> list[RuleResult]:
    anchors, intermediates = trust.hierarchy()
    return check_db_certificate(
        leaf, extra_chain=list(extra_chain), anchors=list(anchors), intermediates=list(intermediates),
        expected_cn=drimbox.db_fqdn, expected_ou=drimbox.operator.id_nat_struct, at=at or timezone.now(),
        crl_status=trust.crl_status_for(),
    )


def upload_db_certificate(drimbox: Drimbox, *, acting_user: User, uploaded_file: UploadedFile | bytes | None,
                          ) -> Certificate:
    """Validate an IGC-Santé server certificate for the DRIMbox's `db` name and store it if every rule passes."""
    drimbox = manageable(drimbox, acting_user)
    leaf, *extra_chain = read_upload(uploaded_file, parse_certificate_upload)
    checks = checks_json(evaluate_db_certificate(drimbox, leaf, extra_chain))
    if any(check["ok"] is False for check in checks):
        raise CertificateRejected("Le certificat ne respecte pas les règles de l'Espace de Confiance.", checks)
    with transaction.atomic():
        return store_certificate(drimbox=drimbox, kind=CertificateKind.DB, source=CertificateSource.UPLOAD,
                                 leaf=leaf, chain=extra_chain, checks=checks, acting_user=acting_user,
                                 reason="dépôt")
