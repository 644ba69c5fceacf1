"""ANS's home: the work waiting as counts, each linking to the list it counts (filtered the same way), in a fixed
number of queries whatever the size of the trust space."""
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.support import weather as wx
from tests.support.lifecycle import submitted_declaration

pytestmark = pytest.mark.django_db


def _counts(body):
    """{label: (value, url)} of the cards."""
    found = re.findall(r'data-count="([^"]+)"><span class="portal-count__value[^"]*">(\d+)</span>'
                       r'<a class="fr-link" href="([^"]+)"', body)
    return {unescape(label): (int(value), unescape(url)) for label, value, url in found}


def _grow(world, n):
    boxes = wx.make_drimboxes(world.operator, n)
    now = timezone.now()
    for index, box in enumerate(boxes):
        wx.incident(box, now - timedelta(days=2, hours=index), restored_at=now - timedelta(days=1))
    wx.incident(boxes[0], wx.support_morning(now))  # open, its GTI and GTR long passed
    for _ in range(n // 3 + 1):
        submitted_declaration(world.operator, world.legal)


def test_ans_is_sent_to_its_home_and_sees_the_counts(world, client):
    _grow(world, 3)
    client.force_login(world.ans)
    assert client.get("/")["Location"] == reverse("ans_home")
    counts = _counts(client.get(reverse("ans_home")).content.decode())
    waiting, url = counts["en attente de l'ANS"]
    assert waiting == 2 and url == reverse("ans_review_queue")
    assert counts["non affectées"] == (2, reverse("ans_review_queue") + "?assigned=aucune")
    assert counts["en cours"] == (1, reverse("ans_incidents") + "?state=ouvert")
    assert counts["en cours, GTI dépassée"] == (1, reverse("ans_incidents") + "?state=ouvert&breach=gti")
    assert counts["en cours, GTR dépassée"][0] == 1


def test_each_count_is_the_length_of_the_list_it_links_to(world, client):
    _grow(world, 3)
    client.force_login(world.ans)
    counts = _counts(client.get(reverse("ans_home")).content.decode())
    for label in ("en attente de l'ANS", "non affectées", "en cours", "en cours, GTI dépassée",
                  "en cours, GTR dépassée"):
        value, url = counts[label]
        listed = client.get(url).content.decode()
        assert re.search(rf"<p>{value} (demande|incident)s?</p>", listed), (label, value, url)


def test_the_ans_home_runs_a_fixed_number_of_queries(world, client):
    client.force_login(world.ans)
    _grow(world, 1)
    client.get(reverse("ans_home"))
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("ans_home")).status_code == 200
    _grow(world, 12)
    with CaptureQueriesContext(connection) as large:
        assert client.get(reverse("ans_home")).status_code == 200
    assert len(large) == len(small)
    assert len(small) <= 30


def test_the_ans_home_is_for_ans_only(world, client):
    client.force_login(world.legal)
    assert client.get(reverse("ans_home")).status_code == 403
