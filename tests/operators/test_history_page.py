"""The history pages (issue 16, item 3): the operator's « Historique » and ANS's « Historique de l'espace de
confiance » — French labels, field-by-field changes, filters, DSFR pagination, CSV export, chain state, no N+1."""
import csv
import html as html_lib
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from operators import services
from operators.models import Role
from tests.support import lifecycle as lc
from tests.trustspace.test_audit import triggers_disabled
from trustspace import history
from trustspace.alerts import audit_chain_result
from trustspace.models import AuditEntry

pytestmark = pytest.mark.django_db


def _text(response):
    return html_lib.unescape(response.content.decode())


def _updates(world, count, start=0):
    for number in range(start, start + count):
        services.update_operator(world.operator, acting_user=world.legal, data={"city": f"Ville {number}"})


def _invitations(operator, user, count, start=0):
    for number in range(start, start + count):
        services.invite_person(operator, acting_user=user, email=f"invite{number}@example.fr",
                               role=Role.TECHNICAL_ADMIN)


def _visible(html):
    """What a person reads: the text outside tags and attributes."""
    return re.sub(r"<[^>]+>", " ", html)


def _csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


def test_the_operator_history_reads_in_french(client, world):
    lc.active_drimbox(world.operator, world.legal, world.ans)  # requests, approval, DRIMbox, VA, attestation…
    services.update_operator(world.operator, acting_user=world.legal, data={"city": "Lyon"})
    client.force_login(world.legal)
    html = _text(client.get(reverse("operator_history"), {"page": 1}))
    codes = set(AuditEntry.objects.filter(operator_id=world.operator.pk).values_list("action", flat=True))
    assert {"request.approved", "operator.updated", "membership.created"} <= codes
    for code in codes:
        assert code not in _visible(html)
    assert "Demande approuvée" in html
    assert "Coordonnées de l'opérateur modifiées" in html
    assert "<strong>Commune</strong>" in html and "Lyon" in html
    assert "{'" not in html  # never a Python dict
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", html)  # never an ISO instant
    assert "Opérateur B" not in html  # another operator's rows stay out


def test_filters_by_action_person_object_kind_and_dates(client, world):
    _updates(world, 3)
    _invitations(world.operator, world.legal, 2)
    client.force_login(world.legal)
    url = reverse("operator_history")

    def seqs(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return [int(n) for n in re.findall(r"n° (\d+)</span>", _text(response))]

    updates = list(AuditEntry.objects.filter(operator_id=world.operator.pk, action="operator.updated")
                   .order_by("-seq").values_list("seq", flat=True))
    assert seqs(action="operator.updated") == updates
    invitations = AuditEntry.objects.filter(operator_id=world.operator.pk, object_type="operators.invitation")
    assert seqs(type_objet="operators.invitation") == sorted(invitations.values_list("seq", flat=True), reverse=True)
    assert seqs(objet="invite1@example.fr") == list(invitations.filter(object_repr__contains="invite1@")
                                                   .values_list("seq", flat=True))
    by_technical = seqs(personne=world.technical.display_name.upper())  # case does not matter
    assert by_technical == list(AuditEntry.objects.filter(operator_id=world.operator.pk,
                                                          actor_label__icontains=world.technical.display_name)
                                .order_by("-seq").values_list("seq", flat=True))
    # The Paris days the updates were written on (read from the rows: a second clock reading could be the next
    # day, and the updates themselves may straddle midnight).
    written = AuditEntry.objects.filter(operator_id=world.operator.pk, action="operator.updated")
    first, last = (timezone.localdate(written.order_by(order).values_list("created_at", flat=True).first())
                   for order in ("created_at", "-created_at"))
    assert seqs(action="operator.updated", du=first.isoformat(), au=last.isoformat()) == updates
    assert seqs(action="operator.updated", au=(first - timedelta(days=1)).isoformat()) == []
    assert seqs(action="operator.updated", du=(last + timedelta(days=1)).strftime("%d/%m/%Y")) == []
    today = timezone.localdate()
    # an impossible range says so next to the field
    html = _text(client.get(url, {"du": today.isoformat(), "au": (today - timedelta(days=2)).isoformat()}))
    assert "La date de fin doit suivre la date de début." in html


def test_pages_of_fifty_with_dsfr_pagination_keeping_the_filters(client, world):
    _updates(world, history.PAGE_SIZE + 5)
    client.force_login(world.legal)
    url = reverse("operator_history")
    first = _text(client.get(url, {"action": "operator.updated"}))
    assert first.count("<strong>Commune</strong>") == history.PAGE_SIZE
    assert "fr-pagination" in first
    assert "page 1 sur 2" in first
    assert 'href="?action=operator.updated&page=2"' in first
    second = _text(client.get(url, {"action": "operator.updated", "page": 2}))
    assert second.count("<strong>Commune</strong>") == 5
    assert "Ville 0" in second and f"Ville {history.PAGE_SIZE + 4}" not in second


def test_csv_export_of_the_filtered_rows(client, world):
    _updates(world, history.PAGE_SIZE + 5)
    _invitations(world.operator, world.legal, 2)
    _invitations(world.other_operator, world.other, 1)
    client.force_login(world.technical)
    response = client.get(reverse("operator_history"), {"action": "operator.updated", "export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert rows[0] == history.CSV_HEADER
    assert len(rows) - 1 == history.PAGE_SIZE + 5  # every filtered row, not one page
    assert {row[3] for row in rows[1:]} == {"Coordonnées de l'opérateur modifiées"}
    assert rows[1][6].startswith("Commune : ")
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} à \d{2}:\d{2}", rows[1][1])
    everything = _csv_rows(client.get(reverse("operator_history"), {"export": "csv"}))
    assert all("invite0@example.fr" not in row[5] or row[0] != "" for row in everything)
    assert not any("Opérateur B" in row[5] for row in everything[1:])  # B's rows stay B's


def test_csv_export_keeps_the_page_permissions(client, world):
    response = client.get(reverse("operator_history"), {"export": "csv"})
    assert response.status_code == 302 and "/connexion/" in response["Location"]
    client.force_login(world.ans)
    assert client.get(reverse("operator_history"), {"export": "csv"}).status_code == 302  # ANS: not an operator
    client.force_login(world.legal)
    assert client.get(reverse("ans_history"), {"export": "csv"}).status_code == 403


def test_ans_history_covers_every_operator_and_filters_by_operator(client, world):
    _invitations(world.operator, world.legal, 1)
    _invitations(world.other_operator, world.other, 1, start=10)
    client.force_login(world.ans)
    html = _text(client.get(reverse("ans_history"), {"action": "invitation.created"}))
    assert "invite0@example.fr" in html and "invite10@example.fr" in html
    html = _text(client.get(reverse("ans_history"), {"action": "invitation.created",
                                                     "operateur": world.other_operator.pk}))
    assert "invite10@example.fr" in html and "invite0@example.fr" not in html
    rows = _csv_rows(client.get(reverse("ans_history"), {"operateur": world.other_operator.pk, "export": "csv"}))
    assert len(rows) - 1 == AuditEntry.objects.filter(operator_id=world.other_operator.pk).count()
    # ANS's page of an operator shows its last rows and leads to the rest
    detail = _text(client.get(reverse("ans_operator", args=[world.other_operator.pk])))
    assert f"{reverse('ans_history')}?operateur={world.other_operator.pk}" in detail
    assert "Invitation envoyée" in detail and "invitation.created" not in _visible(detail)


def test_ans_sees_the_chain_verified(client, world):
    client.force_login(world.ans)
    html = _text(client.get(reverse("ans_history")))
    count = AuditEntry.objects.count()
    assert "Journal d'audit intact" in html
    assert f"Vérifié à l'ouverture de cette page : {count} lignes" in html


def test_ans_sees_a_broken_chain(client, world):
    entry = AuditEntry.objects.order_by("seq")[3]
    with triggers_disabled():
        AuditEntry.objects.filter(pk=entry.pk).update(reason="réécrit")
    client.force_login(world.ans)
    html = _text(client.get(reverse("ans_history")))
    assert "Journal d'audit : chaîne rompue" in html
    assert f"ligne #{entry.seq}" in html and "contenu modifié" in html


def test_a_long_chain_shows_the_nightly_verdict_and_can_be_checked_on_demand(client, world, monkeypatch):
    monkeypatch.setattr(history, "INLINE_VERIFY_MAX_ROWS", 1)
    client.force_login(world.ans)
    html = _text(client.get(reverse("ans_history")))
    assert "La vérification nocturne n'a signalé aucune rupture." in html
    assert "Vérifier maintenant" in html
    audit_chain_result(False, "ligne #2 (id 2) : contenu modifié")  # what the nightly task records
    html = _text(client.get(reverse("ans_history")))
    assert "La vérification nocturne a signalé une rupture" in html and "ligne #2 (id 2)" in html
    html = _text(client.get(reverse("ans_history"), {"verifier": "1"}))  # the chain itself is intact
    assert "Vérifié à l'ouverture de cette page" in html and "Journal d'audit intact" in html


def _count(client, user, name, params):
    client.force_login(user)
    client.get(reverse(name), params)  # warm: session and active operator
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(name), params)
    assert response.status_code == 200
    return len(queries)


PAGES = [
    ("legal", "operator_history", {"action": "invitation.created"}),
    ("legal", "operator_history", {"action": "invitation.created", "type_objet": "operators.invitation",
                                   "personne": "a", "du": "2000-01-01"}),
    ("ans", "ans_history", {"action": "invitation.created"}),
    ("ans", "ans_history", {"action": "invitation.created", "operateur": "A"}),
]


def _counts(client, world, pages):
    users = {"ans": world.ans, "legal": world.legal}
    return {(name, str(params)): _count(client, users[who], name,
                                        {k: (world.operator.pk if v == "A" else v) for k, v in params.items()})
            for who, name, params in pages}


def test_history_pages_do_not_grow_with_rows(client, world):
    """2 then 25 invitations on the page, each naming its operator: one query for all their operators."""
    _invitations(world.operator, world.legal, 2)
    before = _counts(client, world, PAGES)
    _invitations(world.operator, world.legal, history.PAGE_SIZE, start=2)
    assert _counts(client, world, PAGES) == before


def test_unfiltered_history_pages_do_not_grow_with_rows(client, world):
    """A full page of the same kinds of rows, then twice as many rows behind it."""
    pages = [("legal", "operator_history", {}), ("ans", "ans_history", {})]
    _invitations(world.operator, world.legal, history.PAGE_SIZE)
    before = _counts(client, world, pages)
    _invitations(world.operator, world.legal, history.PAGE_SIZE, start=history.PAGE_SIZE)
    assert _counts(client, world, pages) == before
