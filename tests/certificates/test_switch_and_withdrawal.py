"""Certificates across an operator switch and a withdrawal: former credentials and revocations stay with the
former operator, certificates issued afterwards are spared, a withdrawn DRIMbox gets none without reintegration."""
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from certificates import services
from certificates.models import AcmeDnsCredential, Certificate, Revocation
from operators import services as operator_services
from operators.models import RequestKind
from tests.certificates.test_services import crl, switch_to_other_operator  # noqa: F401
from tests.support.lifecycle import active_drimbox, approve, declared_drimbox, give_certificates, shared_pki
from trustspace.errors import NotAuthenticated

pytestmark = pytest.mark.django_db

TXT = "a" * 43


def test_acme_dns_credentials_end_with_a_switch(world, bind):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    credential, password = services.register_acme_dns(drimbox, acting_user=world.technical)
    services.acme_dns_update(username=credential.username, password=password, subdomain=credential.subdomain,
                             txt=TXT, dns=bind.client())
    switch_to_other_operator(world, drimbox)
    with pytest.raises(NotAuthenticated):  # even before the pending revocations run
        services.acme_dns_update(username=credential.username, password=password,
                                 subdomain=credential.subdomain, txt="b" * 43, dns=bind.client())
    services.process_pending_revocations()
    assert AcmeDnsCredential.objects.get(pk=credential.pk).revoked_at is not None


def test_new_operator_sees_neither_former_revocations_nor_credentials(world, client, crl):  # noqa: F811
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    give_certificates(drimbox, world.technical)
    credential, _password = services.register_acme_dns(drimbox, acting_user=world.technical)
    switch_to_other_operator(world, drimbox)
    services.process_pending_revocations()
    serials = list(Revocation.objects.filter(certificate__drimbox=drimbox).values_list("certificate__serial",
                                                                                       flat=True))
    assert serials
    client.force_login(world.other)
    page = client.get(reverse("drimbox_certificates", args=[drimbox.pk])).content.decode()
    assert not any(serial in page for serial in serials)
    assert "Identifiants en service" not in page and credential.username not in page


def test_pending_revocations_spare_certificates_issued_after_them(world, crl):  # noqa: F811
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    req = operator_services.create_request(
        acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
        drimbox=drimbox, data={"reason": "Pause"})
    approve(operator_services.submit_request(req, acting_user=world.legal), world.ans)
    # Reintegration: certificates may be renewed for it (withdrawn DRIMbox, reintegration request open).
    reintegration = operator_services.create_request(acting_user=world.legal, operator=world.operator,
                                      kind=RequestKind.REINTEGRATION, drimbox=drimbox)
    later = timezone.now() + timedelta(seconds=1)
    give_certificates(drimbox, world.technical)
    Certificate.objects.filter(drimbox=drimbox, superseded_at__isnull=True).update(created_at=later)
    services.process_pending_revocations()
    current = Certificate.objects.filter(drimbox=drimbox, superseded_at__isnull=True)
    assert current.count() == 2 and not Revocation.objects.filter(certificate__in=current).exists()
    approve(operator_services.submit_request(reintegration, acting_user=world.legal), world.ans)
    drimbox.refresh_from_db()
    assert drimbox.status == "active"


def test_no_certificate_for_a_withdrawn_drimbox_without_reintegration(world):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    req = operator_services.create_request(
        acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL,
        drimbox=drimbox, data={"reason": "Fin"})
    approve(operator_services.submit_request(req, acting_user=world.legal), world.ans)
    issued = shared_pki().db_certificate(drimbox.db_fqdn, id_nat_struct=world.operator.id_nat_struct)
    with pytest.raises(Exception, match="réintégration"):
        services.upload_db_certificate(drimbox, acting_user=world.technical,
                                       uploaded_file=SimpleUploadedFile("db.pem", issued.chain_pem))
