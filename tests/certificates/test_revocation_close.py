"""« Clore sans révocation »: an ANS administrator closes a revocation the CA cannot do (« impossible »), with a
reason; the operator's technical administrators are told, and the switch or withdrawal that called for it
completes once nothing else is left to revoke."""
from html import unescape

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from certificates import services
from certificates.models import CertificateKind, Revocation, RevocationStatus
from certificates.services import revocations
from certificates.services.inventory import TASK
from operators.models import PendingRevocation, PendingRevocationStatus
from tests.certificates.test_services import switch_to_other_operator
from tests.support.lifecycle import declared_drimbox, give_certificates
from trustspace.errors import Conflict, InvalidData, NotAllowed
from trustspace.models import AuditEntry, OutboxKind, OutboxMessage
from trustspace.technical_detail import with_detail

REASON = "Certificat émis par une autre autorité, hors service depuis la bascule."
PEBBLE_SAYS = "Unable to find specified certificate"


def _switched(world):
    """A DRIMbox switched from operator A to B: its db revocation to do, its vi one impossible at the CA."""
    drimbox = declared_drimbox(world.operator, world.legal, world.ans)
    give_certificates(drimbox)
    switch_to_other_operator(world, drimbox)
    services.process_pending_revocations()
    by_kind = {r.certificate.kind: r for r in Revocation.objects.filter(certificate__drimbox=drimbox)
               .select_related("certificate")}
    # What the ACME task records when the CA does not know the certificate (tests/certificates/test_french_errors).
    Revocation.objects.filter(pk=by_kind[CertificateKind.VI].pk).update(
        status=RevocationStatus.IMPOSSIBLE, attempts=1,
        last_error=with_detail("Révocation : l'autorité de certification ne connaît pas ce certificat.", PEBBLE_SAYS))
    Revocation.objects.filter(pk=by_kind[CertificateKind.DB].pk).update(status=RevocationStatus.PENDING)
    pending = PendingRevocation.objects.get(drimbox=drimbox)
    return (pending, Revocation.objects.get(pk=by_kind[CertificateKind.VI].pk),
            Revocation.objects.get(pk=by_kind[CertificateKind.DB].pk))


def _db_revoked(revocation):
    """The CRL shows the db certificate revoked (what ``recheck_db_certificates`` does)."""
    with transaction.atomic():
        revocations._mark_revoked(Revocation.objects.select_for_update().select_related("certificate").get(
            pk=revocation.pk), when=timezone.now(), actor=TASK)


@pytest.mark.django_db
def test_ans_closes_an_impossible_revocation_and_the_switch_completes(world):
    pending, vi, db = _switched(world)
    _db_revoked(db)
    pending.refresh_from_db()
    assert pending.status == PendingRevocationStatus.OPEN  # the vi certificate is still « to revoke »

    closed = services.close_impossible_revocation(vi, acting_user=world.ans, reason=f"  {REASON}  ")

    closed.refresh_from_db()
    assert (closed.status, closed.closed_by, closed.closed_reason) == (RevocationStatus.CLOSED, world.ans, REASON)
    assert closed.closed_at is not None and closed.certificate.revoked_at is None  # closed, not revoked
    entry = AuditEntry.objects.get(action="certificate.revocation_closed")
    assert (entry.actor_id, entry.reason, entry.operator_id) == (world.ans.pk, REASON, world.operator.pk)
    assert entry.before == {"status": "impossible"} and entry.after["status"] == "close"
    pending.refresh_from_db()
    assert pending.status == PendingRevocationStatus.DONE and pending.completed_at is not None
    completed = AuditEntry.objects.get(action="pending_revocation.completed", object_id=str(pending.pk))
    assert completed.actor_id == world.ans.pk
    [notice] = [m.payload for m in OutboxMessage.objects.filter(kind=OutboxKind.EMAIL)
                if "close par l'ANS" in m.payload["subject"]]
    assert notice["to"] == [world.technical.email]  # operator A's technical administrators, not B's
    assert REASON in notice["body"] and "Bascule d'opérateur" in notice["body"]
    assert PEBBLE_SAYS not in notice["body"]
    # The periodic tasks leave it alone, and the certificate may be revoked again if it is still in service.
    services.process_pending_revocations()
    services.process_revocations()
    closed.refresh_from_db()
    assert closed.status == RevocationStatus.CLOSED


@pytest.mark.django_db
def test_the_switch_stays_open_while_another_certificate_is_to_revoke(world):
    pending, vi, db = _switched(world)
    services.close_impossible_revocation(vi, acting_user=world.ans, reason=REASON)
    pending.refresh_from_db()
    assert pending.status == PendingRevocationStatus.OPEN  # the db certificate is not revoked yet
    _db_revoked(db)
    pending.refresh_from_db()
    assert pending.status == PendingRevocationStatus.DONE
    assert AuditEntry.objects.get(action="pending_revocation.completed", object_id=str(pending.pk)).actor_id is None


@pytest.mark.django_db
def test_only_an_ans_administrator_closes_a_revocation(world):
    pending, vi, _db = _switched(world)
    for user in (world.technical, world.legal, world.other):
        with pytest.raises(NotAllowed, match="Réservé aux administrateurs ANS"):
            services.close_impossible_revocation(vi, acting_user=user, reason=REASON)
    vi.refresh_from_db()
    pending.refresh_from_db()
    assert vi.status == RevocationStatus.IMPOSSIBLE and pending.status == PendingRevocationStatus.OPEN
    assert not AuditEntry.objects.filter(action="certificate.revocation_closed").exists()


@pytest.mark.django_db
def test_only_an_impossible_revocation_is_closed(world):
    _pending, vi, db = _switched(world)
    with pytest.raises(Conflict, match="Seule une révocation impossible peut être close sans révocation") as refused:
        services.close_impossible_revocation(db, acting_user=world.ans, reason=REASON)
    assert refused.value.status_code == 409 and "« à faire »" in refused.value.message
    db.refresh_from_db()
    assert db.status == RevocationStatus.PENDING
    services.close_impossible_revocation(vi, acting_user=world.ans, reason=REASON)
    with pytest.raises(Conflict, match="« close sans révocation par l'ANS »"):  # not twice
        services.close_impossible_revocation(vi, acting_user=world.ans, reason=REASON)
    assert AuditEntry.objects.filter(action="certificate.revocation_closed").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("reason", "message"), [
    ("", "Indiquez pourquoi la révocation est close sans révocation."),
    ("   \n ", "Indiquez pourquoi la révocation est close sans révocation."),
    ("Hors service", "Le motif doit compter au moins 15 caractères"),
    ("x" * 2001, "Le motif ne doit pas dépasser 2000 caractères."),
    ("Certificat inconnu\x00 de l'autorité", "Caractère de contrôle interdit"),
])
def test_the_reason_is_required_and_long_enough(world, reason, message):
    _pending, vi, _db = _switched(world)
    with pytest.raises(InvalidData) as refused:
        services.close_impossible_revocation(vi, acting_user=world.ans, reason=reason)
    assert message in " ".join(refused.value.field_errors["reason"])
    vi.refresh_from_db()
    assert vi.status == RevocationStatus.IMPOSSIBLE


# --------------------------------------------------------------------------- the page


def _url(revocation):
    return reverse("ans_revocation_close", args=[revocation.pk])


@pytest.mark.django_db
def test_the_ans_dashboard_offers_to_close_an_impossible_revocation(world, client):
    _pending, vi, db = _switched(world)
    client.force_login(world.ans)
    page = unescape(client.get(reverse("ans_certificates")).content.decode())
    assert page.count("data-close-revocation") == 1 and _url(vi) in page and _url(db) not in page
    detail = client.get(reverse("certificate_detail", args=[vi.certificate_id])).content.decode()
    assert _url(vi) in detail
    form = client.get(_url(vi))
    assert form.status_code == 200
    body = unescape(form.content.decode())
    assert "Bascule d'opérateur" in body and 'name="close-reason"' in body and 'name="close-submission_token"' in body
    assert body.index(PEBBLE_SAYS) > body.index("<summary>Détail technique</summary>")  # folded, in English
    # The technical administrator of the former operator sees the revocation, not the action.
    client.force_login(world.technical)
    detail = client.get(reverse("certificate_detail", args=[vi.certificate_id])).content.decode()
    assert "Impossible, sans nouvel essai" in detail and _url(vi) not in detail


@pytest.mark.django_db
@pytest.mark.parametrize(("reason", "message"), [
    ("", "Indiquez pourquoi la révocation est close sans révocation."),
    ("Trop court", "Le motif doit compter au moins 15 caractères"),
])
def test_form_errors_are_next_to_the_field(world, client, reason, message):
    _pending, vi, _db = _switched(world)
    client.force_login(world.ans)
    response = client.post(_url(vi), {"close-reason": reason, "close-submission_token": "t" * 24})
    assert response.status_code == 200
    body = unescape(response.content.decode())
    field_error = body.index('id="id_close-reason-desc-error"')
    assert message in body[field_error:field_error + 400]
    assert "1 erreur" in body  # the summary counts it once
    vi.refresh_from_db()
    assert vi.status == RevocationStatus.IMPOSSIBLE


@pytest.mark.django_db
def test_a_double_submit_closes_once(world, client):
    pending, vi, db = _switched(world)
    _db_revoked(db)
    client.force_login(world.ans)
    data = {"close-reason": REASON, "close-submission_token": "k" * 24}
    first = client.post(_url(vi), data)
    assert first.status_code == 302 and first["Location"].endswith("/ans/certificats/#certificats-revocations")
    again = client.post(_url(vi), data, follow=True)
    assert "Ce formulaire a déjà été envoyé : la révocation est close sans révocation." in unescape(
        again.content.decode())
    assert AuditEntry.objects.filter(action="certificate.revocation_closed").count() == 1
    pending.refresh_from_db()
    assert pending.status == PendingRevocationStatus.DONE
    # Gone from the revocations to do; the page of the closed revocation says so, without a form.
    page = client.get(reverse("ans_certificates")).content.decode()
    assert "data-close-revocation" not in page
    closed = unescape(client.get(_url(vi)).content.decode())
    assert "data-not-closable" in closed and REASON in closed and 'name="close-reason"' not in closed


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["technical", "legal", "other"])
def test_operator_roles_get_403(world, client, role):
    _pending, vi, _db = _switched(world)
    client.force_login(getattr(world, role))
    assert client.get(_url(vi)).status_code == 403
    assert client.post(_url(vi), {"close-reason": REASON}).status_code == 403
    vi.refresh_from_db()
    assert vi.status == RevocationStatus.IMPOSSIBLE


@pytest.mark.django_db
def test_the_form_needs_the_csrf_token(world):
    from django.test import Client

    _pending, vi, _db = _switched(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.ans)
    assert client.post(_url(vi), {"close-reason": REASON}).status_code == 403
    vi.refresh_from_db()
    assert vi.status == RevocationStatus.IMPOSSIBLE
