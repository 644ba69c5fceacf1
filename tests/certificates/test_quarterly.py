"""The quarterly notice of the certificate list, and the list's downloads from the portal."""
import datetime as dt
import io

import pytest
from django.core import mail
from django.urls import reverse
from openpyxl import load_workbook

from certificates import services
from tests.support.lifecycle import active_drimbox

pytestmark = pytest.mark.django_db(transaction=True)


def test_quarterly_notice_and_downloads(world, client):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    mail.outbox.clear()
    assert services.send_quarterly_export_notices() == 1
    (message,) = mail.outbox
    assert "Liste trimestrielle" in message.subject and "technical@example.fr" in message.to
    assert "other@example.fr" not in message.to  # operator B administers no certificate
    # The quarter is the Paris one: 31 December 23:30 UTC is already 1 January 2027, 00:30, in Paris.
    mail.outbox.clear()
    assert services.send_quarterly_export_notices(now=dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == 1
    assert "(2027-T1)" in mail.outbox[0].subject

    client.force_login(world.legal)
    csv_text = client.get(reverse("certificate_export", args=["csv"])).content.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("Identifiant DRIMbox;")
    assert drimbox.db_fqdn in csv_text and drimbox.vi_fqdn in csv_text
    assert drimbox.health_structure.name in csv_text
    workbook = load_workbook(io.BytesIO(client.get(reverse("certificate_export", args=["xlsx"])).content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][0] == "Identifiant DRIMbox" and len(rows) == 3
    assert client.get(reverse("certificate_export", args=["pdf"])).status_code == 404

    client.force_login(world.other)
    assert drimbox.db_fqdn not in client.get(reverse("certificate_export", args=["csv"])).content.decode()
