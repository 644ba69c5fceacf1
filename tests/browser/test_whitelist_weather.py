"""The signed whitelist and the weather in headless Chromium, end to end.

One ANS administrator prepares a whitelist version, another approves and publishes it; the public list
answers 200 then 304; the DRIMbox goes down (the prober's write path), the operator's technical
administrator acknowledges the incident on « Météo », and the public weather page shows it.
"""
import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login, logout
from tests.support.lifecycle import active_drimbox
from tests.support.oidc_provider import set_user
from tests.whitelist.signing import signer_p12  # noqa: F401  (fixture)
from weather import services as weather_services
from weather.models import Incident, WeatherStatus
from whitelist.models import WhitelistVersion, WhitelistVersionStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PREPARER, APPROVER, TECHNICAL = "isc-ans-preparer", "isc-ans-approver", "isc-technical"


@pytest.fixture
def people(world, make_user, issuer):
    approver = make_user("ans.approver", is_ans_admin=True, oidc_sub=APPROVER, email="approver@ans.example.fr")
    for user, sub in ((world.ans, PREPARER), (world.technical, TECHNICAL)):
        user.oidc_sub = sub
        user.save(update_fields=["oidc_sub"])
    admins = {"groups": ["ans-drimm-admin"]}
    set_user(issuer, PREPARER, {"email": world.ans.email, "given_name": "Alice", "family_name": "Prépare", **admins})
    set_user(issuer, APPROVER, {"email": approver.email, "given_name": "Bruno", "family_name": "Approuve", **admins})
    set_user(issuer, TECHNICAL, {"email": world.technical.email, "given_name": "Théo", "family_name": "Technique"})
    return approver


def test_four_eyes_publication_then_incident_acknowledged(page, portal, issuer, world, people, signer_p12):  # noqa: F811
    box = active_drimbox(world.operator, world.legal, world.ans)
    status = page.get_by_role("status")
    menu = page.get_by_role("navigation", name="Menu principal")

    # 1. One ANS administrator prepares the version: the diff shows the DRIMbox added.
    login(page, portal, issuer, PREPARER)
    menu.get_by_role("button", name="Liste blanche").click()  # a sub-menu of the header navigation
    menu.get_by_role("link", name="Versions de la liste blanche").click()
    page.get_by_role("button", name="Préparer une version").click()
    expect(status).to_contain_text("est préparée")
    expect(page.get_by_role("heading", level=1)).to_contain_text("version 1")
    expect(page.locator("main")).to_contain_text(box.db_fqdn)
    logout(page, portal)

    # 2. Another one approves: signed, verified, published.
    login(page, portal, issuer, APPROVER)
    page.goto(portal + "/ans/liste-blanche/")
    page.get_by_role("link", name="1", exact=True).click()
    page.get_by_role("button", name="Approuver et publier").click()
    expect(status).to_contain_text("est signée, vérifiée et publiée")
    version = WhitelistVersion.objects.get(number=1)
    assert version.status == WhitelistVersionStatus.PUBLISHED and version.approved_by == people

    # 3. A DRIMbox downloads it, then asks again with its ETag.
    downloaded = page.request.get(portal + "/liste-blanche/listeblanche.xml")
    assert downloaded.status == 200 and downloaded.body() == bytes(version.signed_xml)
    again = page.request.get(portal + "/liste-blanche/listeblanche.xml",
                             headers={"If-None-Match": downloaded.headers["etag"]})
    assert again.status == 304
    logout(page, portal)

    # 4. The prober confirms the DRIMbox down; its technical administrator acknowledges the incident.
    weather_services.set_status(box, WeatherStatus.DOWN, effective_at=timezone.now() - dt.timedelta(minutes=5),
                                reason="db : connexion refusée")
    login(page, portal, issuer, TECHNICAL)
    menu.get_by_role("button", name="Météo", exact=True).click()
    menu.get_by_role("link", name="Météo de mes DRIMbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Météo de mes DRIMbox")
    page.get_by_role("button", name="Prendre en compte").click()
    expect(status).to_contain_text("pris en compte")
    incident = Incident.objects.get(drimbox=box)
    assert incident.acknowledged_by == world.technical and incident.acknowledged_at is not None

    # 5. Anyone sees it on the public weather page.
    page.get_by_role("link", name="Météo des DRIMbox").click()
    row = page.locator(f"tr[data-identifiant='{box.identifiant}']")
    expect(row).to_contain_text("Indisponible")
    expect(row.locator("svg.weather-bars")).to_be_visible()
