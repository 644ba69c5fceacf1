"""certificates.services end to end: `db` uploads checked against a real CRL served on 127.0.0.1, CRL
rechecks and IGC-Santé revocation tasks, expiry notices, the quarterly export, the integration checklist,
and `vi` certificates through a real Pebble ACME CA answering DNS-01 on a real BIND 9."""
import csv
import io
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.x509.verification import PolicyBuilder, Store
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook

from certificates import export, services, trust
from certificates.acme_client import AcmeError, key_to_pem, new_account_key
from certificates.integration import certificate_checks
from certificates.models import (
    AcmeAccount,
    Certificate,
    CertificateKind,
    CrlCache,
    ExpiryNotice,
    Revocation,
    RevocationStatus,
    ViOrder,
    ViOrderStatus,
)
from certificates.services import CertificateRejected
from operators.models import PendingRevocation, PendingRevocationKind, PendingRevocationStatus, RequestKind, Role
from tests.conftest import add_role, require_or_skip
from tests.support import pki
from tests.support.crl_server import running_crl_server
from tests.support.lifecycle import (
    approve,
    declaration_data,
    declared_drimbox,
    give_certificates,
    make_order,
    shared_pki,
    submitted_declaration,
)
from tests.support.pebble import pebble_available, running_pebble
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry

CRL_PATH = "/CRL/ACI-EL-SRV-TEST-PYTEST.crl"
TECHNICAL = ["technical@example.fr"]


# --------------------------------------------------------------------------- helpers and fixtures


@pytest.fixture
def crl(monkeypatch):
    """A loopback CRL server, named in the CRL distribution point of every `db` certificate issued during the
    test, serving an up-to-date CRL that revokes nothing."""
    with running_crl_server() as server:
        monkeypatch.setattr(pki, "CRL_URL", server.url(CRL_PATH))
        server.set_crl(CRL_PATH, shared_pki().crl())
        yield server


def db_issued(drimbox, **knobs):
    knobs.setdefault("id_nat_struct", drimbox.operator.id_nat_struct)
    return shared_pki().db_certificate(knobs.pop("fqdn", drimbox.db_fqdn), **knobs)


def upload(drimbox, data, user):
    return services.upload_db_certificate(drimbox, acting_user=user,
                                          uploaded_file=SimpleUploadedFile("db.pem", data))


def rule(checks, code):
    return next(check for check in checks if check["code"] == code)


def switch_to_other_operator(world, drimbox):
    req = submitted_declaration(world.other_operator, world.other, kind=RequestKind.SWITCH, drimbox=drimbox,
                                data=declaration_data(order=make_order(world.other_operator, world.other)))
    approve(req, world.ans)
    drimbox.refresh_from_db()
    assert drimbox.operator == world.other_operator


def mails(subject_part):
    return [m for m in mail.outbox if subject_part in m.subject]


# --------------------------------------------------------------------------- db upload


@pytest.mark.django_db
def test_db_upload_with_a_good_crl_is_stored_with_every_rule_passed(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    issued = db_issued(drimbox)
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    assert certificate.kind == CertificateKind.DB and certificate.operator == world.operator
    assert certificate.serial == format(issued.cert.serial_number, "X")
    assert certificate.subject.startswith(f"CN={drimbox.db_fqdn},OU={world.operator.id_nat_struct},")
    assert certificate.uploaded_by == world.technical
    assert {c["code"] for c in certificate.checks} >= {"chain", "cn", "ou", "validity", "signature_hash",
                                                       "key_usage", "revocation"}
    assert all(check["ok"] is True for check in certificate.checks), certificate.checks
    assert "ne figure pas dans la LCR" in rule(certificate.checks, "revocation")["message"]
    assert crl.requests_for(CRL_PATH) == 1
    cache = CrlCache.objects.get(url=crl.url(CRL_PATH))
    assert cache.der and cache.next_update and cache.last_error == ""


@pytest.mark.django_db
def test_db_upload_of_a_revoked_certificate_is_rejected(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    issued = db_issued(drimbox)
    crl.set_crl(CRL_PATH, shared_pki().crl(revoked=[issued]))
    with pytest.raises(CertificateRejected) as caught:
        upload(drimbox, issued.chain_pem, world.technical)
    revocation = rule(caught.value.checks, "revocation")
    assert revocation["ok"] is False and "révoqué" in revocation["message"]
    assert revocation["message"] in caught.value.field_errors["file"]
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_db_upload_with_the_crl_server_down_is_stored_as_not_verified(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    crl.stop()
    certificate = upload(drimbox, db_issued(drimbox).chain_pem, world.technical)
    revocation = rule(certificate.checks, "revocation")
    assert revocation["ok"] is None
    assert "LCR indisponible" in revocation["message"] and "injoignable" in revocation["message"]
    assert "inconnu" in revocation["message"] and "ne figure pas" not in revocation["message"]
    assert all(c["ok"] is True for c in certificate.checks if c["code"] != "revocation")
    cache = CrlCache.objects.get(url=pki.CRL_URL)
    assert cache.der is None and cache.last_error


@pytest.mark.parametrize("status", [404, 500])
@pytest.mark.django_db
def test_db_upload_with_an_http_error_on_the_crl_is_not_verified(world, crl, status):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    crl.set_error(CRL_PATH, status)
    certificate = upload(drimbox, db_issued(drimbox).chain_pem, world.technical)
    revocation = rule(certificate.checks, "revocation")
    assert revocation["ok"] is None and "indisponible" in revocation["message"] and str(status) in revocation["message"]


@pytest.mark.django_db
def test_db_upload_with_a_stale_crl_is_not_verified(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    now = pki.utcnow()
    crl.set_crl(CRL_PATH, shared_pki().crl(this_update=now - timedelta(days=10), next_update=now - timedelta(days=1)))
    certificate = upload(drimbox, db_issued(drimbox).chain_pem, world.technical)
    revocation = rule(certificate.checks, "revocation")
    assert revocation["ok"] is None
    assert "périmée" in revocation["message"] and "ne figure pas" not in revocation["message"]


@pytest.mark.django_db
def test_db_upload_with_another_drimbox_name_or_another_operator_ou_is_rejected(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    neighbour = declared_drimbox(world.operator, world.legal, world.ans)
    with pytest.raises(CertificateRejected) as caught:
        upload(drimbox, db_issued(drimbox, fqdn=neighbour.db_fqdn).chain_pem, world.technical)
    assert rule(caught.value.checks, "cn")["ok"] is False
    assert neighbour.db_fqdn in rule(caught.value.checks, "cn")["message"]
    assert rule(caught.value.checks, "ou")["ok"] is True
    with pytest.raises(CertificateRejected) as caught:
        upload(drimbox, db_issued(drimbox, id_nat_struct=world.other_operator.id_nat_struct).chain_pem,
               world.technical)
    assert rule(caught.value.checks, "ou")["ok"] is False
    assert world.operator.id_nat_struct in rule(caught.value.checks, "ou")["message"]
    assert rule(caught.value.checks, "cn")["ok"] is True
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_db_upload_by_the_legal_representative_is_not_allowed(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    for user in (world.legal, world.mandataire, world.other, world.ans):
        with pytest.raises(NotAllowed):
            upload(drimbox, db_issued(drimbox).chain_pem, user)
    assert not Certificate.objects.exists()
    assert crl.requests_for(CRL_PATH) == 0


@pytest.mark.django_db
def test_db_upload_with_a_private_key_is_refused_and_nothing_is_stored(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    issued = db_issued(drimbox)
    for data in (issued.chain_pem + issued.key_pem, issued.key_pem + issued.pem,
                 issued.pem + pki.key_pem_traditional(issued.key)):
        with pytest.raises(InvalidData) as caught:
            upload(drimbox, data, world.technical)
        assert not isinstance(caught.value, CertificateRejected)
        assert "clé privée" in caught.value.message
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_second_db_upload_supersedes_the_first_and_the_same_one_twice_is_a_conflict(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    first = upload(drimbox, db_issued(drimbox).chain_pem, world.technical)
    renewed = db_issued(drimbox)
    second = upload(drimbox, renewed.chain_pem, world.technical)
    first.refresh_from_db()
    assert first.superseded_at is not None and second.superseded_at is None
    current = Certificate.objects.filter(drimbox=drimbox, kind="db", superseded_at__isnull=True,
                                         revoked_at__isnull=True)
    assert list(current) == [second]
    with pytest.raises(Conflict):
        upload(drimbox, renewed.chain_pem, world.technical)
    with pytest.raises(Conflict):  # an older certificate, already in the inventory
        upload(drimbox, pki.cert_pem(x509.load_pem_x509_certificate(first.pem.encode())), world.technical)
    assert Certificate.objects.filter(drimbox=drimbox).count() == 2
    assert list(current) == [second]


# --------------------------------------------------------------------------- CRL recheck and db revocation


@pytest.mark.django_db
def test_recheck_marks_a_db_certificate_revoked_once_a_refreshed_crl_lists_it(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    issued = db_issued(drimbox)
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    t0 = timezone.now()
    later = t0 + timedelta(hours=7)  # past CRL_MAX_AGE_HOURS: the cached copy is due for a refresh
    # The intermediate's own CRL is on the public IGC-Santé site: mark it freshly fetched so that the
    # refresh stays on the loopback.
    for url in trust.crl_urls(shared_pki().intermediate.cert):
        CrlCache.objects.create(url=url, fetched_at=later, next_update=later + timedelta(days=30))
    crl.set_crl(CRL_PATH, shared_pki().crl(revoked=[issued]))

    assert services.refresh_crls(now=t0) == 0  # cached copy still fresh: not fetched again
    assert crl.requests_for(CRL_PATH) == 1
    assert services.recheck_db_certificates(now=t0) == 0
    certificate.refresh_from_db()
    assert certificate.revoked_at is None

    assert services.refresh_crls(now=later) == 1
    assert crl.requests_for(CRL_PATH) == 2
    assert services.recheck_db_certificates(now=later) == 1
    certificate.refresh_from_db()
    assert certificate.revoked_at == later and certificate.revocation_reason == "Révoqué (CRL)"
    assert services.recheck_db_certificates(now=later) == 0


@pytest.mark.django_db(transaction=True)
def test_db_revocation_task_is_confirmed_only_when_the_serial_is_in_the_crl(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    issued = db_issued(drimbox)
    certificate = upload(drimbox, issued.chain_pem, world.technical)
    mail.outbox.clear()
    before = timezone.now()
    revocation = services.revoke_certificate(certificate, acting_user=world.technical, reason="compromission")
    assert revocation.status == RevocationStatus.PENDING and revocation.reason_code == 1
    assert timedelta(days=6, hours=23) < revocation.deadline - before < timedelta(days=7, minutes=1)
    [task_mail] = mails("à révoquer avant le")
    assert task_mail.to == TECHNICAL
    with pytest.raises(Conflict):  # one open revocation per certificate
        services.revoke_certificate(certificate, acting_user=world.technical, reason="compromission")
    with pytest.raises(NotAllowed):
        services.revoke_certificate(certificate, acting_user=world.legal, reason="compromission")

    assert services.process_revocations() == 0  # the cached CRL does not list it yet
    revocation.refresh_from_db()
    certificate.refresh_from_db()
    assert revocation.status == RevocationStatus.PENDING and certificate.revoked_at is None

    crl.set_crl(CRL_PATH, shared_pki().crl(revoked=[issued]))
    services.fetch_crl(crl.url(CRL_PATH))
    assert services.process_revocations() == 1
    revocation.refresh_from_db()
    certificate.refresh_from_db()
    assert revocation.status == RevocationStatus.DONE and revocation.done_at is not None
    assert certificate.revoked_at is not None and "keyCompromise" in certificate.revocation_reason
    assert services.process_revocations() == 0
    with pytest.raises(Conflict):
        services.revoke_certificate(certificate, acting_user=world.technical, reason="compromission")


# --------------------------------------------------------------------------- expiry notices


@pytest.mark.django_db(transaction=True)
def test_expiry_notices_after_a_missed_run_are_sent_once(world, crl):
    base = timezone.now().replace(microsecond=0)
    soon, later = (declared_drimbox(world.operator, world.legal, world.ans) for _ in range(2))
    in_14 = upload(soon, db_issued(soon, not_before=base - timedelta(days=700),
                                   not_after=base + timedelta(days=14, hours=7)).chain_pem, world.technical)
    in_59 = upload(later, db_issued(later, not_before=base - timedelta(days=700),
                                    not_after=base + timedelta(days=59, hours=13)).chain_pem, world.technical)
    mail.outbox.clear()

    # Nothing ran for weeks: J-60 and J-15 are both crossed for one, J-60 for the other; never an exact day.
    assert services.send_expiry_notices(now=base + timedelta(hours=3)) == 2
    notices = mails("expire le")
    assert len(notices) == 2 and all(m.to == TECHNICAL for m in notices)
    assert {m.subject.split("Certificat db de ")[1].split(" ")[0] for m in notices} == {soon.db_fqdn, later.db_fqdn}
    assert set(ExpiryNotice.objects.filter(certificate=in_14).values_list("threshold_days", flat=True)) == {60, 15}
    assert set(ExpiryNotice.objects.filter(certificate=in_59).values_list("threshold_days", flat=True)) == {60}

    mail.outbox.clear()
    assert services.send_expiry_notices(now=base + timedelta(hours=5)) == 0
    assert services.send_expiry_notices(now=base + timedelta(days=1, hours=2)) == 0
    assert mails("expire le") == []

    # 45 days on: the second one crosses J-15 (once); the first one has expired.
    assert services.send_expiry_notices(now=base + timedelta(days=45)) == 1
    [notice] = mails("expire le")
    assert later.db_fqdn in notice.subject and notice.to == TECHNICAL
    assert set(ExpiryNotice.objects.filter(certificate=in_59).values_list("threshold_days", flat=True)) == {60, 15}
    assert services.send_expiry_notices(now=base + timedelta(days=46)) == 0


# --------------------------------------------------------------------------- export and integration checklist


@pytest.mark.django_db
def test_quarterly_export_lists_the_operators_certificates_only_and_neutralises_formulas(world, crl, make_user):
    mine = declared_drimbox(world.operator, world.legal, world.ans)
    theirs = declared_drimbox(world.other_operator, world.other, world.ans)
    add_role(world.other_operator, world.other, make_user("techb"), Role.TECHNICAL_ADMIN)
    give_certificates(mine)
    give_certificates(theirs)
    db_certificate = Certificate.objects.get(drimbox=mine, kind="db")
    Certificate.objects.filter(pk=db_certificate.pk).update(subject='=HYPERLINK("http://evil.example","x")')

    text = export.to_csv(world.operator).decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert table[0] == export.HEADER
    body = table[1:]
    assert sorted(row[2] for row in body) == ["db", "vi"]
    assert {row[0] for row in body} == {str(mine.identifiant)}
    assert theirs.db_fqdn not in text and theirs.vi_fqdn not in text
    by_kind = {row[2]: row for row in body}
    structure = mine.health_structure
    for kind, fqdn in (("db", mine.db_fqdn), ("vi", mine.vi_fqdn)):
        row = dict(zip(export.HEADER, by_kind[kind], strict=True))
        certificate = Certificate.objects.get(drimbox=mine, kind=kind)
        assert row["Nom"] == fqdn and row["Structure de santé"] == structure.name
        assert row["SIREN structure"] == structure.siren
        assert row["Expire le"] == f"{timezone.localtime(certificate.not_after):%d/%m/%Y}"
        assert row["État"] == "Valide"
    assert by_kind["db"][6] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert not any(cell[:1] in "=+-@" for row in body for cell in row if cell)

    sheet = load_workbook(io.BytesIO(export.to_xlsx(world.operator))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == export.HEADER and len(rows) == 3
    assert {r[0] for r in rows[1:]} == {mine.identifiant}
    assert {r[1] for r in rows[1:]} == {mine.db_fqdn, mine.vi_fqdn}
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in {r[6] for r in rows[1:]}
    theirs_rows = list(load_workbook(io.BytesIO(export.to_xlsx(world.other_operator))).active.iter_rows(
        values_only=True))
    assert {r[0] for r in theirs_rows[1:]} == {theirs.identifiant}


@pytest.mark.django_db
def test_integration_checklist_follows_the_current_operators_certificates(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    checks = certificate_checks(drimbox)
    assert [item.ok for item in checks] == [False, False]
    assert drimbox.db_fqdn in checks[0].detail and drimbox.vi_fqdn in checks[1].detail
    give_certificates(drimbox)
    assert [item.ok for item in certificate_checks(drimbox)] == [True, True]
    switch_to_other_operator(world, drimbox)
    assert [item.ok for item in certificate_checks(drimbox)] == [False, False]


# --------------------------------------------------------------------------- vi through ACME (Pebble + BIND)


@pytest.fixture
def acme(bind, settings, tmp_path):
    """A real Pebble validating DNS-01 against the test BIND; the portal's ACME settings pointed at it."""
    require_or_skip(pebble_available(), "Pebble (Debian package pebble) is not installed")
    with running_pebble(tmp_path / "pebble", dns_server=f"{bind.host}:{bind.port}") as pebble:
        settings.ACME_DIRECTORY_URL = pebble.directory_url
        settings.ACME_CA_BUNDLE = pebble.ca_bundle
        settings.ACME_CONTACT_EMAIL = "pki@example.fr"
        settings.ACME_ACCOUNT_KEY_SECRET = Fernet.generate_key().decode()
        settings.ACME_PROPAGATION_TIMEOUT = 5
        yield pebble


def verified_chain(certificate, pebble, fqdn):
    leaf = x509.load_pem_x509_certificate(certificate.pem.encode())
    intermediates = x509.load_pem_x509_certificates(certificate.chain_pem.encode())
    root = x509.load_pem_x509_certificate(pebble.root_pem().encode())
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(fqdn))
    return verifier.verify(leaf, intermediates)


def serial_of(certificate):
    return x509.load_pem_x509_certificate(certificate.pem.encode()).serial_number


@pytest.mark.django_db(transaction=True)
def test_vi_issue_renew_revoke_and_operator_switch_through_pebble(world, crl, bind, acme):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    csr, csr_key = pki.build_csr(drimbox.vi_fqdn)
    mail.outbox.clear()

    # Issuance: the on_commit task (eager) orders, answers DNS-01 on BIND and stores the chain.
    order = services.request_vi_certificate(drimbox, acting_user=world.technical,
                                            uploaded_csr=SimpleUploadedFile("vi.csr", pki.csr_pem(csr)))
    order.refresh_from_db()
    assert order.status == ViOrderStatus.ISSUED, order.last_error
    first = order.certificate
    assert (first.kind, first.source, first.operator) == ("vi", "acme", world.operator)
    assert first.superseded_at is None and first.revoked_at is None
    chain = verified_chain(first, acme, drimbox.vi_fqdn)
    assert chain[-1].subject == x509.load_pem_x509_certificate(acme.root_pem().encode()).subject
    assert x509.load_pem_x509_certificate(first.pem.encode()).public_key() == csr_key.public_key()
    assert all(check["ok"] is True for check in first.checks), first.checks
    [issued_mail] = mails("Certificat vi émis")
    assert issued_mail.to == TECHNICAL and drimbox.vi_fqdn in issued_mail.subject
    assert acme.cert_status(serial_of(first))["Status"] == "Valid"
    assert bind.client().lookup(f"_acme-challenge.{drimbox.vi_fqdn}", "TXT") == []  # cleaned up
    assert services.current_vi_chain(drimbox, acting_user=world.legal) == first
    assert services.process_vi_orders() == (0, 0)

    # Renewal once a third of the lifetime is left, from the same CSR; the new one supersedes the old.
    lifetime = first.not_after - first.not_before
    assert services.renew_vi_certificates(now=first.not_before + lifetime / 2) == 0
    assert services.renew_vi_certificates(now=first.not_before + lifetime * 0.7) == 1
    assert services.renew_vi_certificates(now=first.not_before + lifetime * 0.7) == 0  # already queued
    renewal = ViOrder.objects.get(renewal_of=first)
    assert renewal.status == ViOrderStatus.PENDING and renewal.csr_pem == order.csr_pem
    assert services.process_vi_orders() == (1, 0)
    renewal.refresh_from_db()
    second = renewal.certificate
    first.refresh_from_db()
    assert renewal.status == ViOrderStatus.ISSUED and first.superseded_at is not None
    assert second.serial != first.serial and second.superseded_at is None
    assert x509.load_pem_x509_certificate(second.pem.encode()).public_key() == csr_key.public_key()
    verified_chain(second, acme, drimbox.vi_fqdn)
    assert services.current_vi_chain(drimbox, acting_user=world.technical) == second

    # Key compromise of the superseded certificate: revoked at the CA with reason keyCompromise (1).
    revocation = services.revoke_certificate(first, acting_user=world.technical, reason="compromission")
    assert services.process_revocations() == 0  # the on_commit task (eager) already did it
    revocation.refresh_from_db()
    first.refresh_from_db()
    assert revocation.status == RevocationStatus.DONE, revocation.last_error
    assert first.revoked_at is not None and "keyCompromise" in first.revocation_reason
    status = acme.cert_status(serial_of(first))
    assert (status["Status"], status["Reason"]) == ("Revoked", 1)
    assert acme.cert_status(serial_of(second))["Status"] == "Valid"

    # Operator switch: the former operator's vi certificate is revoked (superseded, 4), its db certificate
    # gets a revocation task with a deadline; the switch is complete once both are done.
    db_leaf = db_issued(drimbox)
    db_certificate = upload(drimbox, db_leaf.chain_pem, world.technical)
    switch_to_other_operator(world, drimbox)
    pending = PendingRevocation.objects.get(drimbox=drimbox)
    assert pending.previous_operator == world.operator and pending.completed_at is None
    assert (pending.kind, pending.status) == (PendingRevocationKind.SWITCH, PendingRevocationStatus.OPEN)
    mail.outbox.clear()
    services.process_pending_revocations()
    services.process_revocations()
    vi_revocation = Revocation.objects.get(certificate=second)
    assert (vi_revocation.reason, vi_revocation.reason_code, vi_revocation.pending_revocation) == (
        "bascule", 4, pending)
    assert vi_revocation.status == RevocationStatus.DONE, vi_revocation.last_error
    second.refresh_from_db()
    assert second.revoked_at is not None and "superseded" in second.revocation_reason
    status = acme.cert_status(serial_of(second))
    assert (status["Status"], status["Reason"]) == ("Revoked", 4)
    db_revocation = Revocation.objects.get(certificate=db_certificate)
    assert db_revocation.status == RevocationStatus.PENDING and db_revocation.pending_revocation == pending
    assert timedelta(days=6, hours=23) < db_revocation.deadline - timezone.now() <= timedelta(days=7)
    [task_mail] = mails("à révoquer avant le")
    assert task_mail.to == TECHNICAL
    pending.refresh_from_db()
    assert pending.completed_at is None
    assert services.process_pending_revocations() == 0  # nothing opened twice

    crl.set_crl(CRL_PATH, shared_pki().crl(revoked=[db_leaf]))
    services.fetch_crl(crl.url(CRL_PATH))
    assert services.process_revocations() == 1
    db_revocation.refresh_from_db()
    db_certificate.refresh_from_db()
    pending.refresh_from_db()
    assert db_revocation.status == RevocationStatus.DONE and db_certificate.revoked_at is not None
    assert pending.completed_at is not None and pending.status == PendingRevocationStatus.DONE
    assert AuditEntry.objects.filter(action="pending_revocation.completed", object_id=str(pending.pk)).count() == 1
    with pytest.raises(Conflict):
        pending.transition_to(PendingRevocationStatus.OPEN)
    assert Revocation.objects.filter(status__in=[RevocationStatus.PENDING, RevocationStatus.FAILED]).count() == 0


@pytest.mark.django_db(transaction=True)
def test_acme_account_key_is_encrypted_and_an_unreachable_ca_is_retried_later(world, acme, settings):
    key = services.acme_account()
    account = AcmeAccount.objects.get()
    stored = bytes(account.key_encrypted)
    assert account.directory_url == acme.directory_url and account.account_uri
    pem = Fernet(settings.ACME_ACCOUNT_KEY_SECRET.encode()).decrypt(stored)
    assert b"-----BEGIN PRIVATE KEY-----" in pem
    # Neither the PEM armour nor any 32-character run of the key's base64 is stored in clear (a shorter run,
    # such as « MII », may appear by chance in any ciphertext).
    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    assert b"PRIVATE KEY" not in stored
    assert not any(body[i:i + 32] in stored for i in range(0, len(body) - 32, 16))
    assert services.acme_account().thumbprint() == key.thumbprint()
    assert AcmeAccount.objects.count() == 1

    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    csr, _key = pki.build_csr(drimbox.vi_fqdn, slot=1)
    acme.stop()
    mail.outbox.clear()
    before = timezone.now()
    order = services.request_vi_certificate(drimbox, acting_user=world.technical,
                                            uploaded_csr=SimpleUploadedFile("vi.csr", pki.csr_pem(csr)))
    order.refresh_from_db()
    assert order.status == ViOrderStatus.PENDING and order.certificate is None
    assert order.attempts == 1
    assert "injoignable" in order.last_error and "autorité de certification" in order.last_error
    assert order.next_attempt_at >= before + timedelta(seconds=settings.ACME_RETRY_BASE_SECONDS)
    assert not Certificate.objects.exists() and mails("Certificat vi") == []
    assert services.process_vi_orders() == (0, 0)  # not due yet
    assert services.process_vi_orders(now=order.next_attempt_at + timedelta(seconds=1)) == (0, 1)
    order.refresh_from_db()
    assert order.attempts == 2 and order.status == ViOrderStatus.PENDING
    assert order.next_attempt_at >= timezone.now() + timedelta(seconds=2 * settings.ACME_RETRY_BASE_SECONDS - 5)

    # Another secret in the environment: a clean AcmeError, and the order keeps waiting.
    settings.ACME_ACCOUNT_KEY_SECRET = Fernet.generate_key().decode()
    with pytest.raises(AcmeError, match="déchiffrée"):
        services.acme_account()
    assert services.process_vi_orders(now=order.next_attempt_at + timedelta(seconds=1)) == (0, 1)
    order.refresh_from_db()
    assert order.attempts == 3 and "déchiffrée" in order.last_error


# --------------------------------------------------------------------------- regressions found in review


@pytest.mark.django_db
def test_no_renewal_of_the_former_operators_vi_certificate_after_a_switch(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    give_certificates(drimbox)
    vi = Certificate.objects.get(drimbox=drimbox, kind="vi")
    switch_to_other_operator(world, drimbox)
    assert services.renew_vi_certificates(now=vi.not_after - timedelta(days=1)) == 0
    assert not ViOrder.objects.filter(drimbox=drimbox, operator=world.other_operator).exists()


@pytest.mark.django_db
def test_a_pending_vi_order_of_the_former_operator_gives_nothing_to_the_new_one(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    csr, key = pki.build_csr(drimbox.vi_fqdn)
    order = services.request_vi_certificate(drimbox, acting_user=world.technical,
                                            uploaded_csr=SimpleUploadedFile("vi.csr", pki.csr_pem(csr)))
    switch_to_other_operator(world, drimbox)
    services.process_pending_revocations()
    # The CA answers the former operator's order afterwards.
    services.record_issued_vi_certificate(order, shared_pki().vi_certificate(drimbox.vi_fqdn, key=key).chain_pem)
    assert not Certificate.objects.filter(drimbox=drimbox, operator=world.other_operator, kind="vi").exists()
    assert certificate_checks(drimbox)[1].ok is False


@pytest.mark.django_db
def test_process_vi_orders_without_dns_settings_fails_the_order_cleanly(world, settings):
    secret = Fernet.generate_key()
    settings.ACME_DIRECTORY_URL = "https://127.0.0.1:9/dir"
    settings.ACME_ACCOUNT_KEY_SECRET = secret.decode()
    settings.DNS_TSIG_SECRET = ""
    AcmeAccount.objects.create(directory_url=settings.ACME_DIRECTORY_URL,
                               key_encrypted=Fernet(secret).encrypt(key_to_pem(new_account_key())))
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    csr, _key = pki.build_csr(drimbox.vi_fqdn)
    order = services.request_vi_certificate(drimbox, acting_user=world.technical,
                                            uploaded_csr=SimpleUploadedFile("vi.csr", pki.csr_pem(csr)))
    assert services.process_vi_orders() == (0, 1)
    order.refresh_from_db()
    assert order.attempts == 1 and order.last_error and order.status == ViOrderStatus.PENDING


@pytest.mark.django_db
def test_an_older_crl_does_not_replace_a_newer_cached_one(world, crl):
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    issued = db_issued(drimbox)
    now = pki.utcnow()
    crl.set_crl(CRL_PATH, shared_pki().crl(revoked=[issued], this_update=now - timedelta(minutes=5)))
    with pytest.raises(CertificateRejected):
        upload(drimbox, issued.chain_pem, world.technical)
    # An older CRL (published two days ago, valid four more days) is served again.
    crl.set_crl(CRL_PATH, shared_pki().crl(this_update=now - timedelta(days=2), next_update=now + timedelta(days=4)))
    services.fetch_crl(crl.url(CRL_PATH))
    with pytest.raises(CertificateRejected):
        upload(drimbox, issued.chain_pem, world.technical)
