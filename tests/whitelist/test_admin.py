"""The whitelist on the portal's read-only admin site: superusers read every row, nobody writes, no XML shown."""
import pytest

from whitelist import services

MODELS = ["whitelistversion", "publishedentry", "signernotice", "githubpublication", "githubissuerequest",
          "githubintakecursor"]


@pytest.mark.parametrize("model", MODELS)
def test_a_superuser_reads_each_whitelist_model_and_cannot_add(model, world, client, make_user):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    assert client.get(f"/admin/whitelist/{model}/").status_code == 200
    assert client.get(f"/admin/whitelist/{model}/add/").status_code == 403


def test_a_version_page_shows_its_facts_but_not_its_xml(world, client, make_user):
    version = services.prepare_version(acting_user=world.ans, comment="Première version")
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    page = client.get(f"/admin/whitelist/whitelistversion/{version.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Première version" in body and "ListeBlancheDRIM-M" not in body
    response = client.post(f"/admin/whitelist/whitelistversion/{version.pk}/change/", {"comment": "Modifiée"})
    assert response.status_code == 403


def test_an_ans_administrator_is_not_a_superuser(world, client):
    client.force_login(world.ans)
    assert client.get("/admin/whitelist/whitelistversion/").status_code == 403
