"""« Version due »: what the next version would add, remove and change, and how long each has waited; the ANS
whitelist page lists them, the operator's DRIMbox page says « En attente de publication » until a version
publishes it."""
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from operators import services as operator_services
from operators.models import Drimbox, RequestKind
from tests.support.lifecycle import active_drimbox
from whitelist import pending, services


def publish(world, ans2):
    return services.approve_and_publish(services.prepare_version(acting_user=world.ans), acting_user=ans2)


def page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_an_integrated_drimbox_waits_for_a_version_then_is_published(world, ans2, box, signer_p12, client):
    due = pending.version_due()
    [change] = due.changes
    assert (change.kind, change.identifiant, change.db, change.drimbox_id) == ("ajout", box.identifiant,
                                                                              box.db_fqdn, box.pk)
    assert change.since == max(box.integrated_at, box.certificates.get(kind="db").created_at)
    assert pending.version_due(now=change.since + timedelta(hours=5)).changes[0].waiting == timedelta(hours=5)

    ans_page = page(client, world.ans, reverse("ans_whitelist"))
    assert 'data-version-due="1"' in ans_page and "Version due : 1 changement en attente" in ans_page
    assert f'data-pending="ajout" data-identifiant="{box.identifiant}"' in ans_page
    detail = page(client, world.technical, reverse("drimbox_detail", args=[box.pk]))
    assert 'data-publication="en-attente"' in detail and "En attente de publication" in detail
    assert "entrera dans la liste blanche" in detail
    assert reverse("weather_drimbox", args=[box.identifiant]) not in detail

    version = publish(world, ans2)
    assert pending.version_due().changes == [] and pending.version_due().published_number == version.number
    assert 'data-version-due="0"' in page(client, world.ans, reverse("ans_whitelist"))
    detail = page(client, world.technical, reverse("drimbox_detail", args=[box.pk]))
    assert 'data-publication="publiee"' in detail
    assert reverse("weather_drimbox", args=[box.identifiant]) in detail


def test_a_change_and_a_withdrawal_wait_with_their_own_dates(world, ans2, box, signer_p12, client):
    other = active_drimbox(world.operator, world.legal, world.ans)
    publish(world, ans2)
    changed_at = timezone.now() - timedelta(hours=3)
    Drimbox.objects.filter(pk=box.pk).update(support_contact="hotline@example.fr", updated_at=changed_at)
    req = operator_services.create_request(acting_user=world.legal, operator=world.operator,
                                           kind=RequestKind.WITHDRAWAL, drimbox=other, data={"reason": "Fin"})
    req = operator_services.assign_request(operator_services.submit_request(req, acting_user=world.legal),
                                           acting_user=world.ans)
    operator_services.approve_request(req, acting_user=world.ans)
    other.refresh_from_db()

    due = pending.version_due()
    by_kind = {c.kind: c for c in due.changes}
    assert set(by_kind) == {"modification", "retrait"} and (due.changed, due.removed, due.added) == (1, 1, 0)
    modification = by_kind["modification"]
    assert modification.identifiant == box.identifiant
    assert modification.fields == {"SupportContact": (box.support_contact, "hotline@example.fr")}
    # Changed three hours ago, but not before the version it departs from was published.
    assert modification.since == max(changed_at, services.last_published().published_at)
    assert by_kind["retrait"].since == other.withdrawn_at
    assert due.oldest is min(due.changes, key=lambda c: c.since)

    ans_page = page(client, world.ans, reverse("ans_whitelist"))
    assert "Version due : 2 changements" in ans_page and "1 retrait, 1 modification par rapport" in ans_page
    assert "hotline@example.fr" in ans_page
    detail = page(client, world.technical, reverse("drimbox_detail", args=[other.pk]))
    assert "sortira de la liste blanche" in detail

    publish(world, ans2)
    assert pending.version_due().changes == []


def test_version_due_reads_a_fixed_number_of_queries(world, ans2, box, signer_p12):
    publish(world, ans2)
    Drimbox.objects.filter(pk=box.pk).update(support_contact="a@example.fr")
    pending.version_due()  # parses and keeps the published list
    with CaptureQueriesContext(connection) as one:
        assert len(pending.version_due().changes) == 1
    for _ in range(3):
        active_drimbox(world.operator, world.legal, world.ans)
    with CaptureQueriesContext(connection) as four:
        assert len(pending.version_due().changes) == 4
    assert len(one) == len(four)


def test_the_operator_s_drimbox_list_marks_those_waiting_for_a_version(world, ans2, box, signer_p12, client):
    publish(world, ans2)
    waiting = active_drimbox(world.operator, world.legal, world.ans)
    assert pending.pending_identifiants([box.pk, waiting.pk]) == {waiting.identifiant}
    listing = page(client, world.legal, reverse("drimbox_list"))

    def row(drimbox):
        [found] = [r for r in listing.split("<tr>") if reverse("drimbox_detail", args=[drimbox.pk]) in r]
        return found.split("</tr>")[0]

    assert "En attente de publication" in row(waiting)
    assert "En attente de publication" not in row(box)
