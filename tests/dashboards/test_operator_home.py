"""The operator's home: the next step each person can actually do and who can do the others, the work waiting,
every certificate's expiry (problems first) and PERF per month — in a fixed number of queries."""
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certificates.models import Certificate
from operators import services
from tests.support import weather as wx
from tests.support.lifecycle import active_drimbox, declared_drimbox
from trustspace.text import plural

pytestmark = pytest.mark.django_db


def _home(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def _accept_contract(world):
    # The world's operator accepted the contract in force when it applied.
    assert services.contract_status(world.operator)[1] is not None


def test_a_legal_representative_is_never_sent_to_the_certificates(world, client):
    _accept_contract(world)
    declared_drimbox(world.operator, world.legal, world.ans)  # declared: certificates are the step left
    body = _home(client, world.legal)
    assert "Prochaine étape : Certificats" not in body
    assert "Rien à faire de votre côté pour le parcours" in body
    # Who can: the technical administrators, by name.
    assert re.search(r"<strong>Certificats</strong> — à faire par un administrateur technique : Technical Test",
                     body)
    # The certificates task says the same, with a link to look (not to act).
    assert "À faire par un administrateur technique : Technical Test." in body
    # The technical administrator is told it is theirs.
    body = _home(client, world.technical)
    assert "Prochaine étape : Certificats" in body and 'href="/espace/certificats/">Voir mes certificats</a>' in body



def test_the_journey_counts_are_written_in_french_not_with_parentheses(world, client):
    _accept_contract(world)
    declared_drimbox(world.operator, world.legal, world.ans)
    declared_drimbox(world.operator, world.legal, world.ans)
    body = unescape(_home(client, world.legal))
    assert "1 représentant légal désigné." in body and "1 administrateur technique désigné." in body
    assert "2 DRIMbox déclarées, dont 0 active dans l'Espace de Confiance." in body
    assert "(s)" not in body


@pytest.mark.parametrize(("count", "text"), [(0, "0 DRIMbox déclarée"), (1, "1 DRIMbox déclarée"),
                                             (2, "2 DRIMbox déclarées")])
def test_french_plural_takes_the_singular_for_zero_and_one(count, text):
    assert plural(count, "DRIMbox déclarée", "DRIMbox déclarées") == text


def test_the_next_step_goes_to_everyone_who_may_do_it(world, client):
    services.remove_membership(world.technical_membership, acting_user=world.legal)
    body = _home(client, world.legal)
    assert "Prochaine étape : Administrateurs techniques" in body
    # A mandataire may invite technical administrators too: the next step is theirs as well.
    body = _home(client, world.mandataire)
    assert "Prochaine étape : Administrateurs techniques" in body


def test_certificates_problems_come_first(world, client):
    first = active_drimbox(world.operator, world.legal, world.ans)
    second = active_drimbox(world.operator, world.legal, world.ans)
    now = timezone.now()
    Certificate.objects.filter(drimbox=second, kind="vi").update(not_after=now - timedelta(days=1))
    Certificate.objects.filter(drimbox=first, kind="db").update(not_after=now + timedelta(days=10))
    missing = declared_drimbox(world.operator, world.legal, world.ans)
    body = _home(client, world.technical)
    table = body[body.index("data-home-certificates"):]
    table = table[:table.index("</table>")]
    order = re.findall(r'data-(missing|certificate)="(\d+)"', table)
    expired = Certificate.objects.get(drimbox=second, kind="vi")
    soon = Certificate.objects.get(drimbox=first, kind="db")
    # The DRIMboxes without a current certificate (the one declared; the one whose vi expired), then by expiry.
    assert order[:2] == [("missing", str(second.identifiant)), ("missing", str(missing.identifiant))]
    assert order[2:4] == [("certificate", str(expired.pk)), ("certificate", str(soon.pk))]
    assert ">Expiré</p>" in table and "Expire dans 10 j" in table
    # The expiry chart and its table: the expired one counted apart.
    assert 'data-figure="echeances"' in body and '<th scope="row">Expirés</th><td>0</td><td>1</td>' in body


def test_perf_per_month_chart_and_table(world, client):
    box = wx.make_drimboxes(world.operator, 1)[0]
    now = timezone.now()
    # 12 hours down inside one Paris month (the 10th, 06:00 to 18:00, in a past month): measured 40 days back from
    # any instant, the outage could straddle a month's end and be split into two PERF 1 months.
    down = timezone.localtime(now - timedelta(days=40)).replace(day=10, hour=6, minute=0, second=0, microsecond=0)
    wx.timeline(box, [(now - timedelta(days=80), "operational"), (down, "down"),
                      (down + timedelta(hours=12), "operational")])
    body = _home(client, world.legal)
    assert 'data-figure="perf-mois"' in body and 'role="img"' in body
    assert "<title id=\"perf-mois-title\">PERF de mes DRIMbox par mois</title>" in body
    table = body[body.index('data-figure-table="perf-mois"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>((?:<td>[^<]*</td>)+)</tr>", table)
    cells = [re.findall(r"<td>([^<]*)</td>", r[1]) for r in rows]
    # One month with 12 h down: PERF 0.5; the others PERF 1.
    assert ["1", "0", "1", "0", "12:00"] in cells
    assert all(c[0] == "1" for c in cells)


def test_the_home_does_not_grow_with_drimboxes(world, client):
    client.force_login(world.legal)
    wx.populate(wx.make_drimboxes(world.operator, 1), timezone.now(), user=world.technical)
    client.get("/")
    with CaptureQueriesContext(connection) as small:
        client.get("/")
    boxes = wx.make_drimboxes(world.operator, 20)
    wx.populate(boxes, timezone.now(), user=world.technical)
    with CaptureQueriesContext(connection) as large:
        client.get("/")
    assert len(large) == len(small)


def test_a_drimbox_without_viewer_misses_no_vi_certificate(world, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from certificates import services as certificate_services
    from tests.operators.test_without_viewer import viewerless_data
    from tests.support.lifecycle import approve, shared_pki, submitted_declaration

    box = approve(submitted_declaration(world.operator, world.legal,
                                        data=viewerless_data(world.operator, world.legal)), world.ans).drimbox
    issued = shared_pki().db_certificate(box.db_fqdn, id_nat_struct=world.operator.id_nat_struct)
    certificate_services.upload_db_certificate(box, acting_user=world.technical,
                                               uploaded_file=SimpleUploadedFile("db.pem", issued.chain_pem))
    body = _home(client, world.technical)
    assert f'data-missing="{box.identifiant}"' not in body
    assert "Certificats à renouveler ou déposer" not in body
    client.force_login(world.ans)
    assert "Aucune." in client.get("/ans/certificats/").content.decode().split('id="certificats-manquants"')[1][:400]
