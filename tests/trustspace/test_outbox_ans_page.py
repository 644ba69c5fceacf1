"""« ANS — Envois »: only ANS administrators see the outbox, relaunch failed messages; constant query count."""
import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from trustspace import outbox
from trustspace.models import AuditEntry, OutboxKind, OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db


def _failed(n, label="E-mail : Demande approuvée → 1 destinataire"):
    return OutboxMessage.objects.bulk_create([OutboxMessage(
        kind=OutboxKind.TASK, status=OutboxStatus.FAILED, label=f"{label} #{i}", attempts=10,
        last_error="HTTP 404 introuvable", payload={"task": "trustspace.tasks.send_email",
                                                  "args": [["a@example.fr"], "Relancé", "Corps"], "kwargs": {}})
        for i in range(n)])


def test_only_ans_administrators_see_the_page_and_relaunch(world, client):
    [message] = _failed(1)
    page, retry = reverse("ans_outbox"), reverse("ans_outbox_retry", args=[message.pk])
    assert client.get(page).status_code == 302  # anonymous: to the login page
    assert client.post(retry).status_code == 302
    client.force_login(world.legal)  # an operator's legal representative
    assert client.get(page).status_code == 403
    assert client.post(retry).status_code == 403
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED

    client.force_login(world.ans)
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "HTTP 404 introuvable" in html and "Relancer" in html and message.label in html
    # An English original is folded as the technical detail, under the French message.
    message.last_error = outbox.failure_text(OutboxKind.WEBHOOK, RuntimeError("HTTP 503 Service Unavailable"))
    message.save(update_fields=["last_error"])
    html = unescape(client.get(page).content.decode())
    assert "Le récepteur du webhook a répondu HTTP 503." in html
    assert html.index("Service Unavailable") > html.index("<summary>Détail technique</summary>")
    assert 'data-status="failed">en échec : 1' in html


def test_relaunch_is_a_post_with_csrf_and_is_audited(make_user, django_capture_on_commit_callbacks, mailoutbox):
    ans = make_user("ans", is_ans_admin=True)
    [message] = _failed(1)
    retry = reverse("ans_outbox_retry", args=[message.pk])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ans)
    assert browser.get(retry).status_code == 405
    assert browser.post(retry).status_code == 403  # no CSRF token
    html = browser.get(reverse("ans_outbox")).content.decode()
    token = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(retry, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.status_code == 200
    assert "est relancé" in response.content.decode()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    assert [m.subject for m in mailoutbox] == ["Relancé"]
    assert AuditEntry.objects.filter(action="outbox.retried", object_id=str(message.pk), actor=ans).count() == 1
    # Twice: nothing to relaunch, said in French, no second audit row.
    response = browser.post(retry, {"csrfmiddlewaretoken": token}, follow=True)
    assert "n'est pas en échec" in unescape(response.content.decode())
    assert AuditEntry.objects.filter(action="outbox.retried").count() == 1
    assert browser.post(reverse("ans_outbox_retry", args=[999999]),
                        {"csrfmiddlewaretoken": token}).status_code == 404


def test_the_page_is_paginated_with_a_constant_query_count(make_user, client):
    client.force_login(make_user("ans", is_ans_admin=True))

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("ans_outbox")).status_code == 200
        return len(captured)

    _failed(3)
    few = queries()
    _failed(120, label="Webhook : alert.opened → hooks.example.fr")
    assert queries() == few
    html = client.get(reverse("ans_outbox"), {"statut": "failed", "page": 3}).content.decode()
    assert re.search(r'aria-current="page"\s+title="Page 3"', html) and 'title="Page 4"' not in html
    assert "123 envois à suivre" in html
    pending = client.get(reverse("ans_outbox"), {"statut": "pending"}).content.decode()
    assert "Aucun envoi en attente ni en échec." in pending


def _sent(n, label="E-mail : Demande approuvée → 1 destinataire", start=None):
    from datetime import timedelta

    from django.utils import timezone

    start = start or timezone.now() - timedelta(hours=1)
    return OutboxMessage.objects.bulk_create([OutboxMessage(
        kind=OutboxKind.EMAIL, status=OutboxStatus.SENT, label=f"{label} #{i}", attempts=1,
        sent_at=start + timedelta(seconds=i), payload={"to": ["a@example.fr"], "subject": "s", "body": "b"})
        for i in range(n)])


def test_ans_lists_sent_messages_latest_first_searchable_with_a_constant_query_count(make_user, client):
    client.force_login(make_user("ans", is_ans_admin=True))
    _failed(2)
    _sent(3, label="E-mail : Demande approuvée → 1 destinataire")
    page = reverse("ans_outbox")
    default = client.get(page).content.decode()
    assert "Demande approuvée → 1 destinataire #1" in default  # the failed ones
    assert 'data-status="sent">envoyé : 3' in default and "2 envois à suivre" in default
    assert default.count('fr-badge--success">envoyé</p>') == 0  # sent ones are not « to follow »

    def sent_page(**params):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(page, {"statut": "sent", **params})
        assert response.status_code == 200
        return response.content.decode(), len(captured)

    html, few = sent_page()
    assert "3 envois partis" in html and "Envoyé le" in html and ">Relancer</button>" not in html
    rows = re.findall(r'<tr data-id="(\d+)">', html)
    sent_ids = list(OutboxMessage.objects.filter(status="sent").order_by("-sent_at").values_list("pk", flat=True))
    assert [int(pk) for pk in rows] == sent_ids  # the latest first, failed ones not listed
    _sent(120, label="Webhook : alert.opened → hooks.example.fr")
    html, many = sent_page(page=2)
    assert many == few and re.search(r'aria-current="page"\s+title="Page 2"', html) and "123 envois partis" in html
    assert re.search(r'title="Page 3"\s+href="\?statut=sent&amp;page=3"', html)  # the pagination keeps the filter
    found, _ = sent_page(q="DEMANDE approuv")
    assert "3 envois partis" in found and "Webhook" not in found
    nothing, _ = sent_page(q="introuvable")
    assert "Aucun envoi parti avec ce libellé." in nothing
    unknown = client.get(page, {"statut": "inconnu", "q": "zzz"}).content.decode()  # an unknown state: the default
    assert "Aucun envoi en attente ni en échec avec ce libellé." in unknown
