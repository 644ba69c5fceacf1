"""No English for people (issue 16, item 7): the ACME CA's problems read in French, its own words kept as the
technical detail — down to a demo revocation that Pebble refuses (« Unable to find specified certificate »)."""
from html import unescape

import pytest
from acme import messages
from cryptography import x509
from django.urls import reverse

from certificates import acme_client, services
from certificates.models import Revocation, RevocationStatus
from tests.certificates.test_services import acme, crl  # noqa: F401  (fixtures: a real Pebble, a CRL server)
from tests.support.lifecycle import declared_drimbox, give_certificates
from trustspace.technical_detail import SEPARATOR, split_detail, with_detail

# RFC 8555 §6.7, the registry of ACME error types.
RFC_8555_TYPES = {
    "accountDoesNotExist", "alreadyRevoked", "badCSR", "badNonce", "badPublicKey", "badRevocationReason",
    "badSignatureAlgorithm", "caa", "compound", "connection", "dns", "externalAccountRequired", "incorrectResponse",
    "invalidContact", "malformed", "orderNotReady", "rateLimited", "rejectedIdentifier", "serverInternal", "tls",
    "unauthorized", "unsupportedContact", "unsupportedIdentifier", "userActionRequired",
}


def problem(code, detail):
    return messages.Error(typ=f"urn:ietf:params:acme:error:{code}", detail=detail)


def test_every_acme_error_type_has_a_french_message():
    assert set(acme_client._PROBLEM_MESSAGES) == RFC_8555_TYPES


@pytest.mark.parametrize("code", sorted(RFC_8555_TYPES))
def test_an_acme_problem_reads_in_french_and_keeps_the_cas_words_apart(code):
    error = acme_client._problem_error("Révocation du certificat n° 1f", problem(code, "Some English words"))
    assert error.message.startswith("Révocation du certificat n° 1f : ") and "English" not in error.message
    assert error.code == code and error.detail == "Some English words"


def test_pebbles_unknown_certificate_is_named_in_french_and_is_permanent():
    error = acme_client._problem_error("Révocation du certificat n° 1f",
                                       problem("malformed", "Unable to find specified certificate."))
    assert error.message == ("Révocation du certificat n° 1f : l'autorité de certification ne connaît pas ce "
                             "certificat (elle ne l'a pas émis, ou ne l'a pas conservé).")
    assert error.detail == "Unable to find specified certificate." and error.permanent


@pytest.mark.parametrize(("code", "detail", "permanent"), [
    ("malformed", "Certificate from unrecognized issuer", True),
    ("badRevocationReason", "reason not allowed", True),
    ("malformed", "JWS has no anti-replay nonce", False),
    ("serverInternal", "Unable to find specified certificate", True),
    ("rateLimited", "too many requests", False),
    ("unauthorized", "account does not own the certificate", False),
])
def test_only_answers_that_cannot_change_are_permanent(code, detail, permanent):
    assert acme_client._problem_error("Révocation", problem(code, detail)).permanent is permanent


def test_an_unknown_problem_type_still_reads_in_french():
    error = acme_client._problem_error("Commande", problem("somethingNew", "Brand new failure"))
    assert error.message == "Commande : erreur de l'autorité de certification." and error.code == "somethingNew"


def test_stored_text_keeps_the_message_whole_and_cuts_the_detail():
    text = with_detail("Échec de la révocation.", "x" * 5000, limit=200)
    assert len(text) == 200 and text.startswith("Échec de la révocation." + SEPARATOR)
    assert split_detail(text) == ("Échec de la révocation.", "x" * (200 - len("Échec de la révocation.")
                                                                     - len(SEPARATOR) - 1) + "…")
    assert split_detail("Rien d'anglais.") == ("Rien d'anglais.", "")
    # Rows written before the convention, the original inline.
    assert split_detail("Révocation du certificat n° 1f : requête ACME refusée comme mal formée (réponse de "
                        "l'autorité : Unable to find specified certificate).") == (
        "Révocation du certificat n° 1f : requête ACME refusée comme mal formée.",
        "Unable to find specified certificate")
    assert split_detail("GitHub refuse le jeton d'accès (401) : vérifiez WHITELIST_GITHUB_TOKEN. (GitHub : Bad "
                        "credentials)") == (
        "GitHub refuse le jeton d'accès (401) : vérifiez WHITELIST_GITHUB_TOKEN.", "Bad credentials")


@pytest.mark.django_db
def test_a_demo_revocation_refused_by_pebble_ends_as_impossible_in_french_with_pebbles_words_as_detail(
        world, crl, bind, acme, client):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from trustspace.models import AuditEntry, OutboxKind, OutboxMessage

    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    # As in the demo: a vi certificate stored as the CA's answer, which this CA (Pebble, restarted) never issued.
    vi = give_certificates(drimbox)
    services.revoke_certificate(vi, acting_user=world.technical, reason="compromission")
    services.process_revocations()  # already done by the task the revocation schedules (eager in tests)
    revocation = Revocation.objects.get(certificate=vi)
    # The CA's answer cannot change: no retry, a clear end state.
    assert revocation.status == RevocationStatus.IMPOSSIBLE and revocation.attempts == 1
    assert services.process_revocations(now=timezone.now() + timedelta(days=30)) == 0
    revocation.refresh_from_db()
    assert revocation.status == RevocationStatus.IMPOSSIBLE and revocation.attempts == 1
    vi.refresh_from_db()
    assert vi.revoked_at is None
    message, detail = split_detail(revocation.last_error)
    serial = x509.load_pem_x509_certificate(vi.pem.encode()).serial_number
    assert message == (f"Révocation du certificat n° {serial:x} : l'autorité de certification ne connaît "
                       "pas ce certificat (elle ne l'a pas émis, ou ne l'a pas conservé).")
    assert detail.startswith("Unable to find specified certificate")  # Pebble's words, as it sent them
    assert AuditEntry.objects.filter(action="certificate.revocation_impossible", object_id=str(vi.pk)).count() == 1

    # The technical administrators are told once, in French, Pebble's words only as the technical detail.
    told = [m.payload for m in OutboxMessage.objects.filter(kind=OutboxKind.EMAIL)
            if "Révocation impossible" in m.payload["subject"]]
    assert len(told) == 1 and world.technical.email in told[0]["to"]
    assert message in told[0]["body"] and "Unable to find" not in told[0]["body"]

    # The operator and the ANS read the French message, the original folded in the technical detail.
    for user, url in ((world.technical, reverse("drimbox_certificates", args=[drimbox.pk])),
                      (world.technical, reverse("certificate_detail", args=[vi.pk])),
                      (world.ans, reverse("ans_certificates"))):
        client.force_login(user)
        page = unescape(client.get(url).content.decode())
        assert message in page and "Impossible, sans nouvel essai" in page
        folded = page.index("<summary>Détail technique</summary>")
        assert page.index("Unable to find specified certificate") > folded  # only inside the folded detail
        assert page.count("Unable to find specified certificate") == 1

    # Nothing more from the portal, but the technical administrator may ask again (a new revocation).
    again = services.revoke_certificate(vi, acting_user=world.technical, reason="compromission")
    assert again.status == RevocationStatus.PENDING and again.pk != revocation.pk


@pytest.mark.django_db
def test_a_switch_whose_vi_revocation_is_impossible_stays_open_without_retrying(world, crl, bind, acme):  # noqa: F811
    from certificates.models import CertificateKind
    from operators.models import PendingRevocation, PendingRevocationStatus
    from tests.certificates.test_services import switch_to_other_operator

    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    vi = give_certificates(drimbox)
    switch_to_other_operator(world, drimbox)
    for _ in range(2):  # the beat runs both tasks again and again: nothing new is opened, nothing retried
        services.process_pending_revocations()
        services.process_revocations()
    revocations = {r.certificate.kind: r for r in Revocation.objects.filter(certificate__drimbox=drimbox)}
    assert set(revocations) == {CertificateKind.DB, CertificateKind.VI}
    assert revocations[CertificateKind.VI].certificate == vi
    assert (revocations[CertificateKind.VI].status, revocations[CertificateKind.VI].attempts) == (
        RevocationStatus.IMPOSSIBLE, 1)
    # The former operator's vi certificate is still to be revoked: the switch's revocations stay to do.
    assert PendingRevocation.objects.get(drimbox=drimbox).status == PendingRevocationStatus.OPEN


@pytest.mark.django_db
def test_a_saved_certificate_whose_revocation_could_not_be_checked_gets_no_green_box(world, crl, client):  # noqa: F811
    from django.contrib.messages import get_messages
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.certificates.test_services import CRL_PATH, db_issued
    from tests.support.lifecycle import shared_pki

    client.force_login(world.technical)
    flashes = []
    for drimbox, crl_status in ((declared_drimbox(world.operator, world.legal, world.ans), 404),
                                (declared_drimbox(world.operator, world.legal, world.ans), None)):
        if crl_status:  # first: nothing is cached yet, the upload fetches the CRL and gets the error
            crl.set_error(CRL_PATH, crl_status)
        else:
            crl.set_crl(CRL_PATH, shared_pki().crl())
        response = client.post(reverse("certificate_db_upload", args=[drimbox.pk]),
                               {"db-file": SimpleUploadedFile("db.pem", db_issued(drimbox).chain_pem)})
        assert response.status_code == 302
        flash = list(get_messages(response.wsgi_request))[-1]  # read: the next upload shows only its own
        flashes.append((flash.level_tag, str(flash)))
    (unchecked_tag, unchecked), (checked_tag, checked) = flashes
    assert unchecked_tag == "warning" and "n'ont pas pu être vérifiées" in unchecked
    assert checked_tag == "success" and "vérifiées" not in checked


def test_a_system_error_reads_in_french():
    import errno

    from trustspace.technical_detail import os_error_french

    assert os_error_french(PermissionError(errno.EACCES, "Permission denied")) == "accès refusé"
    assert os_error_french(IsADirectoryError(errno.EISDIR, "Is a directory")) == "c'est un dossier, pas un fichier"
    assert os_error_french(OSError(errno.ENOBUFS, "No buffer space available")) == "erreur système ENOBUFS"
    assert os_error_french(OSError("no errno")) == "erreur système OSError"
