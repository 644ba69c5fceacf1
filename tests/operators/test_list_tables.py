"""Sortable list pages and their CSV/XLSX exports (trustspace.tables): the sort is taken only from the columns a
table declares, the header says which column sorts and how (aria-sort), and an export holds exactly the rows the
page may show to this person, filtered and sorted as the page."""
import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from operators.models import Operator
from tests.support import weather as wx
from tests.support.lifecycle import submitted_declaration

pytestmark = pytest.mark.django_db


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))


def _xlsx(response):
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def _registry(world, count=3):
    boxes = wx.make_drimboxes(world.operator, count)
    boxes += wx.make_drimboxes(world.other_operator, count)
    return boxes


def test_registry_sorts_on_declared_columns_only(world, client):
    boxes = _registry(world)
    client.force_login(world.ans)
    page = client.get(reverse("ans_registry"), {"sort": "-operateur"}).content.decode()
    # Opérateur B before Opérateur A, and the header says it.
    assert page.index(f">{boxes[3].identifiant}<") < page.index(f">{boxes[0].identifiant}<")
    assert '<th scope="col" aria-sort="descending"><div class="fr-cell--sort"><span>Opérateur</span>' in page
    assert page.count("aria-sort=") == 1
    # A column that is not declared (or a model field) is never used: the default order, by Identifiant.
    for unknown in ("operator__siren", "-pk", "password", "vi"):
        page = client.get(reverse("ans_registry"), {"sort": unknown}).content.decode()
        assert page.index(f">{boxes[0].identifiant}<") < page.index(f">{boxes[3].identifiant}<")
        assert '<th scope="col" aria-sort="ascending"><div class="fr-cell--sort"><span>Identifiant</span>' in page


def test_sort_links_keep_the_filters_and_drop_the_page(world, client):
    _registry(world)
    client.force_login(world.ans)
    page = client.get(reverse("ans_registry"), {"operator": "Opérateur A", "page": "1", "sort": "identifiant"})
    body = page.content.decode()
    assert 'href="?operator=Op%C3%A9rateur+A&amp;sort=-identifiant"' in body  # the other direction
    assert 'href="?operator=Op%C3%A9rateur+A&amp;sort=operateur"' in body
    assert "?operator=Op%C3%A9rateur+A&amp;sort=identifiant&amp;export=csv" in body


def test_registry_export_is_the_filtered_sorted_list(world, client):
    boxes = _registry(world)
    client.force_login(world.ans)
    rows = _csv(client.get(reverse("ans_registry"), {"operator": "Opérateur A", "sort": "-identifiant",
                                                     "export": "csv"}))
    assert rows[0][:4] == ["Identifiant", "Nom db", "Nom vi", "Opérateur"]
    assert [int(r[0]) for r in rows[1:]] == [b.identifiant for b in reversed(boxes[:3])]
    sheet = _xlsx(client.get(reverse("ans_registry"), {"export": "xlsx"}))
    assert sheet[0][0] == "Identifiant" and len(sheet) == 1 + len(boxes)
    assert {row[3] for row in sheet[1:]} == {"Opérateur A", "Opérateur B"}


def test_exports_neutralise_formulas(world, client):
    Operator.objects.filter(pk=world.other_operator.pk).update(name="=HYPERLINK(\"http://x\")")
    client.force_login(world.ans)
    rows = _csv(client.get(reverse("ans_operators"), {"export": "csv"}))
    assert "'=HYPERLINK(\"http://x\")" in [r[0] for r in rows]
    sheet = _xlsx(client.get(reverse("ans_operators"), {"export": "xlsx"}))
    assert "'=HYPERLINK(\"http://x\")" in [r[0] for r in sheet]


def test_operators_list_sorts_by_counts(world, client):
    wx.make_drimboxes(world.other_operator, 2)
    client.force_login(world.ans)
    body = client.get(reverse("ans_operators"), {"sort": "-drimbox"}).content.decode()
    assert body.index("Opérateur B") < body.index("Opérateur A")
    body = client.get(reverse("ans_operators"), {"sort": "drimbox"}).content.decode()
    assert body.index("Opérateur A") < body.index("Opérateur B")


def test_an_operator_exports_only_its_own_requests(world, client):
    mine = submitted_declaration(world.operator, world.legal)
    theirs = submitted_declaration(world.other_operator, world.other)
    client.force_login(world.legal)
    rows = _csv(client.get(reverse("request_list"), {"export": "csv"}))
    references = [r[0] for r in rows[1:]]
    assert mine.reference in references and theirs.reference not in references
    # Someone of another operator, with the same address: its own rows only.
    client.force_login(world.other)
    rows = _csv(client.get(reverse("request_list"), {"export": "csv"}))
    references = [r[0] for r in rows[1:]]
    assert theirs.reference in references and mine.reference not in references
    # ANS's export of the review queue holds both.
    client.force_login(world.ans)
    rows = _csv(client.get(reverse("ans_review_queue"), {"export": "csv"}))
    assert {mine.reference, theirs.reference} <= {r[0] for r in rows[1:]}


def test_my_requests_filters(world, client):
    first = submitted_declaration(world.operator, world.legal)
    second = submitted_declaration(world.operator, world.legal)
    client.force_login(world.legal)
    body = client.get(reverse("request_list"), {"q": first.reference}).content.decode()
    assert first.reference in body and second.reference not in body
    body = client.get(reverse("request_list"), {"status": "en_cours", "kind": "declaration"}).content.decode()
    assert first.reference in body and second.reference in body
    body = client.get(reverse("request_list"), {"status": "refusee"}).content.decode()
    assert first.reference not in body and "Aucune demande ne correspond." in body
    # A bad filter value is a form error, not a 500, and the list stays whole.
    response = client.get(reverse("request_list"), {"status": "n'importe quoi"})
    assert response.status_code == 200 and first.reference in response.content.decode()


@pytest.mark.parametrize(("name", "params"), [
    ("ans_registry", {"sort": "-structure"}),
    ("ans_operators", {"sort": "-at"}),
    ("ans_review_queue", {"sort": "relecteur", "status": "toutes"}),
])
def test_sorted_ans_lists_do_not_grow_with_rows(world, client, name, params, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.ans)
    _registry(world, 1)
    submitted_declaration(world.operator, world.legal)
    client.get(reverse(name), params)
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse(name), params).status_code == 200
    _registry(world, 15)
    for _ in range(3):
        submitted_declaration(world.operator, world.legal)
        submitted_declaration(world.other_operator, world.other)
    with CaptureQueriesContext(connection) as large:
        assert client.get(reverse(name), params).status_code == 200
    assert len(large) == len(small)
