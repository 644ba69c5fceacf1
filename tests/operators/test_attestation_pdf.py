"""The attestation de délégation as a tagged PDF (PDF/UA-1) that is also PDF/A-3a: structure tree, identification,
language, title, text in reading order, times in Paris, every text tagged, user values shown as text."""
import datetime as dt

import pytest

from operators.attestation_pdf import render_attestation
from operators.models import Attestation, DrimboxRequest
from tests.support.tagged_pdf import read
from trustspace.pdf import FontMissing, _FontsOnly

CHECK_URL = "https://drimm.example.fr/attestations/verifier/"
# 30 June 2026 22:15 UTC is 1 July 00:15 in Paris (summer time): day, month and hour all differ.
ISSUED = dt.datetime(2026, 6, 30, 22, 15, tzinfo=dt.UTC)


def attestation(**values):
    fields = {
        "code": "ATT-ABCD-EFGH-JKMN", "issued_at": ISSUED, "operator_name": "Radiologie Numérique Cœur — Sud",
        "operator_siren": "123456789", "structure_name": "Centre d'imagerie des Trois Rivières",
        "structure_siren": "987654321", "structure_finess": "750000001", "identifiant": 12,
        "db_fqdn": "db12.123.mesimagesmedicales.fr", "vi_fqdn": "vi12.123.mesimagesmedicales.fr",
    }
    made = Attestation(**{**fields, **values})
    made.request = DrimboxRequest(reference="DEC-2026-00012")
    return made


@pytest.fixture(scope="module")
def pdf():
    return read(render_attestation(attestation(), check_url=CHECK_URL))


def test_the_catalog_says_tagged_french_and_titled(pdf):
    catalog = pdf.catalog
    assert "/StructTreeRoot" in catalog
    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert catalog["/Lang"] == "fr"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert pdf.reader.metadata.title == "Attestation de délégation ATT-ABCD-EFGH-JKMN"
    assert pdf.reader.metadata.author == "Agence du Numérique en Santé"


def test_the_metadata_identifies_pdf_a_3a_and_pdf_ua_1(pdf):
    assert pdf.identification() == {"pdfaid:part": "3", "pdfaid:conformance": "A", "pdfuaid:part": "1"}
    # PDF/A: the output intent (colours) is there, and pdfuaid is described by an extension schema.
    assert pdf.catalog["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    schemas = pdf.xmp().iter("{http://www.aiim.org/pdfa/ns/schema#}namespaceURI")
    assert "http://www.aiim.org/pdfua/ns/id/" in {schema.text for schema in schemas}


def test_fonts_are_embedded(pdf):
    fonts = pdf.reader.pages[0]["/Resources"]["/Font"]
    assert fonts
    for font in fonts.values():
        descendant = font.get_object()["/DescendantFonts"][0].get_object()
        assert "/FontFile2" in descendant["/FontDescriptor"] or "/FontFile3" in descendant["/FontDescriptor"]
        assert "/ToUnicode" in font.get_object()


def test_headings_paragraphs_and_a_table_with_row_headers(pdf):
    assert {"Document", "H1", "H2", "P", "Table", "TR", "TH", "TD", "Link"} <= pdf.tags
    assert pdf.texts("H1") == ["Attestation de délégation"]
    assert pdf.texts("H2") == ["Code de vérification"]
    assert pdf.texts("TH") == ["Opérateur", "Structure de santé", "Identifiant de la DRIMbox", "Nom db (WADO-RS)",
                               "Nom vi (visionneuse)", "Date de délivrance", "Demande"]
    assert pdf.untagged_text_operations == 0


def test_text_in_reading_order_and_each_value_beside_its_label(pdf):
    blocks = pdf.blocks
    assert blocks[:3] == [("P", "RÉPUBLIQUE FRANÇAISE"),
                          ("P", "Agence du Numérique en Santé — Espace de Confiance DRIM-M"),
                          ("H1", "Attestation de délégation")]
    assert blocks[3][0] == "P" and blocks[3][1].startswith("L'Agence du Numérique en Santé atteste que la DRIMbox "
                                                           "d'identifiant 12 est déclarée")
    pairs = dict(zip(pdf.texts("TH"), pdf.texts("TD"), strict=True))
    # Each value is labelled by its row header in the structure (Headers → TH ID), not only drawn beside it.
    assert [(headers, text) for headers, text in pdf.labelled_cells] == [((th,), td) for th, td in pairs.items()]
    assert pairs["Opérateur"] == "Radiologie Numérique Cœur — Sud (SIREN 123456789)"
    assert pairs["Structure de santé"] == ("Centre d'imagerie des Trois Rivières (SIREN 987654321, "
                                           "FINESS géographique 750000001)")
    assert pairs["Nom db (WADO-RS)"] == "db12.123.mesimagesmedicales.fr"
    order = pdf.reading_order()
    assert order.index("Code de vérification") < order.index("ATT-ABCD-EFGH-JKMN") < order.index(CHECK_URL)


def test_the_issue_time_is_paris_time(pdf):
    pairs = dict(zip(pdf.texts("TH"), pdf.texts("TD"), strict=True))
    assert pairs["Date de délivrance"] == "01/07/2026 à 00:15 (heure de Paris)"
    assert pdf.reader.metadata["/CreationDate"] == "D:20260630221500Z"  # machine format: UTC


def test_the_last_paragraph_is_left_aligned_and_the_link_checks_the_code(pdf):
    """The check sentence is no longer spread over the line (a justified line with a long URL): it is aligned left,
    the URL on its own line, and the link opens the check page with the code filled in."""
    assert pdf.texts("P")[-2:] == [
        "Toute personne peut vérifier l'authenticité de cette attestation en saisissant ce code sur la page :",
        CHECK_URL]
    [link] = [annotation.get_object() for annotation in pdf.reader.pages[0]["/Annots"]]
    assert link["/A"]["/URI"] == f"{CHECK_URL}?code=ATT-ABCD-EFGH-JKMN"
    assert link["/Contents"] == link["/A"]["/URI"]  # PDF/UA: a link carries a description


def test_a_name_in_any_script_and_markup_in_values_are_text():
    """Values come from operators: HTML in them is shown as typed, never fetched; a script Marianne lacks falls
    back to the embedded DejaVu Sans."""
    pdf = read(render_attestation(attestation(
        operator_name='<img src="file:///etc/hostname"> Ωμέγα', structure_name="Клиника «Ж»", vi_fqdn=""),
        check_url=CHECK_URL))
    pairs = dict(zip(pdf.texts("TH"), pdf.texts("TD"), strict=True))
    assert pairs["Opérateur"] == '<img src="file:///etc/hostname"> Ωμέγα (SIREN 123456789)'
    assert pairs["Structure de santé"].startswith("Клиника «Ж»")
    assert pairs["Nom vi (visionneuse)"] == "sans visionneuse"
    assert "Figure" not in pdf.tags
    fonts = pdf.reader.pages[0]["/Resources"]["/Font"].values()
    names = {str(font.get_object()["/BaseFont"]).split("+")[-1] for font in fonts}
    assert "Marianne" in names and "DejaVu-Sans" in names


def test_the_renderer_fetches_only_its_fonts():
    fetcher = _FontsOnly({})
    with pytest.raises(ValueError, match="Ressource refusée"):
        fetcher.fetch("file:///etc/hostname")
    with pytest.raises(ValueError, match="Ressource refusée"):
        fetcher.fetch("https://example.org/tracker.png")


def test_a_missing_font_stops_the_rendering(monkeypatch):
    from pathlib import Path

    from trustspace import pdf as renderer

    monkeypatch.setattr(renderer, "FONT_FILES", (("DejaVu Sans", "normal", Path("/nonexistent/DejaVuSans.ttf")),))
    with pytest.raises(FontMissing):
        render_attestation(attestation(), check_url=CHECK_URL)
