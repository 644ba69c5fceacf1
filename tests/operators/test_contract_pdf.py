"""The contract of adhesion as a tagged PDF/A: a published version, with the active operator's acceptance."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from operators import services
from operators.models import ContractVersion
from tests.support import tagged_pdf

pytestmark = pytest.mark.django_db


def download(client, user, contract):
    client.force_login(user)
    return client.get(reverse("contract_pdf", kwargs={"pk": contract.pk}))


def test_the_contract_page_links_its_pdf(world, client):
    client.force_login(world.legal)
    body = client.get(reverse("contract")).content.decode()
    assert reverse("contract_pdf", kwargs={"pk": world.contract.pk}) in body


def test_the_pdf_gives_the_text_and_the_operators_acceptance_in_paris_time(world, client):
    acceptance = world.operator.contract_acceptances.get(contract_version=world.contract)
    # 31 December 23:30 UTC is 1 January 00:30 in Paris (winter time).
    acceptance.accepted_at = dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)
    acceptance.save()
    response = download(client, world.technical, world.contract)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="contrat-adhesion-2026-01.pdf"'
    pdf = tagged_pdf.read(response.content)
    assert pdf.identification() == {"pdfaid:part": "3", "pdfaid:conformance": "A", "pdfuaid:part": "1"}
    assert pdf.catalog["/Lang"] == "fr" and pdf.untagged_text_operations == 0
    assert pdf.reader.metadata.title == "Contrat d'adhésion à l'Espace de Confiance DRIM-M — version 2026-01"
    assert pdf.texts("H1") == ["Contrat d'adhésion à l'Espace de Confiance DRIM-M"]
    assert pdf.texts("H2") == ["Texte du contrat"]
    facts = dict(zip(pdf.texts("TH"), pdf.texts("TD"), strict=True))
    assert facts["Version"] == "2026-01"
    assert facts["Opérateur"] == f"{world.operator.name} (SIREN {world.operator.siren})"
    assert facts["Acceptation"] == (f"Acceptée le 01/01/2026 à 00:30 (heure de Paris) par "
                                    f"{acceptance.accepted_by.display_name}")
    order = pdf.reading_order()
    assert order.index("Texte du contrat") < order.index("Texte du contrat.") < order.index("Document produit le")


def test_paragraphs_of_the_text_are_paragraphs(world, client):
    contract = services.publish_contract_version(acting_user=world.ans, version="2026-02", title="Contrat V2",
                                                 body="Article 1 — Objet.\n\nArticle 2 — Durée.\nUn an.")
    pdf = tagged_pdf.read(download(client, world.legal, contract).content)
    assert pdf.texts("P")[2:4] == ["Article 1 — Objet.", "Article 2 — Durée. Un an."]
    facts = dict(zip(pdf.texts("TH"), pdf.texts("TD"), strict=True))
    assert facts["Acceptation"] == "Non acceptée par cet opérateur"


def test_each_operator_gets_its_own_acceptance_and_never_another_ones(world, client):
    pdf = tagged_pdf.read(download(client, world.other, world.contract).content)
    text = pdf.reading_order()
    assert world.other_operator.name in text
    assert world.operator.name not in text and world.operator.siren not in text


def test_a_version_not_yet_published_is_not_found(world, client):
    future = ContractVersion.objects.create(version="2027-01", title="Futur", body="…",
                                            published_at=timezone.now() + dt.timedelta(days=3))
    assert download(client, world.legal, future).status_code == 404
    assert download(client, world.legal, ContractVersion(pk=99999)).status_code == 404
