"""Whitelist versions under concurrency: one preparation at a time, never a duplicate, never a 500, and a newer
version always supersedes an older one (``DateDeGeneration`` never goes backwards)."""
import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tests.support.concurrency import in_parallel
from tests.support.lifecycle import active_drimbox
from trustspace.errors import Conflict
from whitelist import services
from whitelist.models import WhitelistVersion, WhitelistVersionStatus

PARALLEL = 20


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_parallel_prepare_clicks_give_one_version_and_no_500(world, box):
    def click():
        client = Client()
        client.force_login(world.ans)
        response = client.post(reverse("ans_whitelist_prepare"), {"comment": "Course"})
        return response, [m.message for m in get_messages(response.wsgi_request)]

    results, errors = in_parallel(PARALLEL, click)

    assert errors == []
    assert len(results) == PARALLEL
    version = WhitelistVersion.objects.get()  # exactly one, no duplicate
    assert version.status == WhitelistVersionStatus.PREPARED and version.number == 1
    version_page = reverse("ans_whitelist_version", kwargs={"number": version.number})
    for response, messages in results:
        assert response.status_code == 302
        if response["Location"] == version_page:  # prepared, or the identical prepared version returned
            assert any("La version 1 est préparée" in m for m in messages), messages
        else:  # lost the race: told to try again
            assert response["Location"] == reverse("ans_whitelist")
            assert messages == ["Une version est déjà en préparation : réessayez dans un instant."]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_parallel_prepare_calls_are_one_version_or_a_busy_conflict(world, box):
    def prepare():
        try:
            return services.prepare_version(acting_user=world.ans).pk
        except Conflict as exc:
            return exc.code

    results, errors = in_parallel(PARALLEL, prepare)

    assert errors == []
    version = WhitelistVersion.objects.get()
    assert set(results) <= {version.pk, "whitelist_busy"} and version.pk in results


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_parallel_publications_sign_once(world, ans2, box, signer_p12):
    version = services.prepare_version(acting_user=world.ans)

    def publish():
        client = Client()
        client.force_login(ans2)
        response = client.post(reverse("ans_whitelist_publish", kwargs={"number": version.number}))
        return response, [m.message for m in get_messages(response.wsgi_request)]

    results, errors = in_parallel(PARALLEL, publish)

    assert errors == []
    assert all(response.status_code == 302 for response, _ in results)
    published = [m for _, messages in results for m in messages if "est signée, vérifiée et publiée" in m]
    assert len(published) == 1
    version.refresh_from_db()
    assert version.is_published
    assert WhitelistVersion.objects.filter(status=WhitelistVersionStatus.PUBLISHED).count() == 1


def test_preparing_again_without_change_returns_the_prepared_version(world, box):
    first = services.prepare_version(acting_user=world.ans, comment="Première")
    again = services.prepare_version(acting_user=world.ans, comment="Deuxième clic")
    assert again.pk == first.pk and WhitelistVersion.objects.count() == 1
    assert first.prepared_now is True and again.prepared_now is False
    assert again.comment == "Première"


def test_an_older_prepared_version_cannot_be_published_after_a_newer_one(world, ans2, box, signer_p12, client):
    older = services.prepare_version(acting_user=world.ans)
    active_drimbox(world.operator, world.legal, world.ans)  # the state changes: a second DRIMbox
    newer = services.prepare_version(acting_user=world.ans)
    assert newer.number > older.number and newer.generated_at >= older.generated_at
    services.approve_and_publish(newer, acting_user=ans2)

    with pytest.raises(Conflict) as refused:
        services.approve_and_publish(older, acting_user=ans2)
    assert refused.value.code == "whitelist_superseded"
    assert "Une version plus récente (v2) est déjà publiée" in refused.value.message

    client.force_login(ans2)
    response = client.post(reverse("ans_whitelist_publish", kwargs={"number": older.number}), follow=True)
    assert "Une version plus récente (v2) est déjà publiée" in response.content.decode()
    older.refresh_from_db()
    assert older.status == WhitelistVersionStatus.PREPARED and older.signed_xml is None
    assert services.last_published().pk == newer.pk
