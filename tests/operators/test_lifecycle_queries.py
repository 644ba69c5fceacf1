"""List pages of the journey run a fixed number of queries, whatever the number of rows (no N+1)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from operators import services
from operators.models import VaDocument
from tests.conftest import pdf_upload
from tests.support.lifecycle import active_drimbox, submitted_declaration

pytestmark = pytest.mark.django_db

PAGES = [
    ("ans", "ans_review_queue", {}),
    ("ans", "ans_review_queue", {"status": "toutes", "operator": "Opérateur"}),
    ("ans", "ans_registry", {}),
    ("ans", "ans_registry", {"structure": "Centre", "dns": "en_attente"}),
    ("ans", "ans_va", {}),
    ("legal", "drimbox_list", {}),
    ("legal", "request_list", {}),
    ("legal", "financing_orders", {}),
]


def _add_rows(world):
    drimbox = active_drimbox(world.operator, world.legal, world.ans)
    services.upload_va(VaDocument.objects.get(drimbox=drimbox), acting_user=world.technical,
                       uploaded_file=pdf_upload("va.pdf"))
    submitted_declaration(world.operator, world.legal)


def _count(client, user, name, params):
    client.force_login(user)
    client.get(reverse(name), params)  # warm: session and active operator
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(name), params)
    assert response.status_code == 200
    return len(queries)


def test_list_pages_do_not_grow_with_rows(client, world):
    _add_rows(world)
    users = {"ans": world.ans, "legal": world.legal}
    before = {(name, str(params)): _count(client, users[who], name, params) for who, name, params in PAGES}
    for _ in range(3):
        _add_rows(world)
    after = {(name, str(params)): _count(client, users[who], name, params) for who, name, params in PAGES}
    assert after == before
