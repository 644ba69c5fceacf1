"""Documents people keep (attestation, PERF report, contract) as PDF that screen readers can read and archives can
keep: PDF/A-3a (ISO 19005-3, level A: tagged, Unicode text) whose metadata also declares PDF/UA-1 (ISO 14289-1).

Each document is an HTML template laid out by WeasyPrint. The structure tree comes from the HTML: headings,
paragraphs, tables whose header cells label their data cells, lists; ``<html lang="fr">`` gives the document's
language and ``<title>`` its title (shown by readers instead of the file name). Backgrounds and borders are
artifacts. Page headers or footers drawn in page margins would stay outside the structure tree: templates put
everything in the page body.

Fonts are embedded (PDF/A): Marianne, the State's typeface shipped with the DSFR, then DejaVu Sans for the
characters Marianne lacks (names are any Unicode). The renderer reads those font files and nothing else: no
template or value can make it open another file or reach the network.

Times in the text are Europe/Paris (the templates render under ``timezone.override``); the creation date in the
metadata is a machine format, UTC.
"""
from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone
from fontTools.ttLib import woff2
from lxml import etree
from weasyprint import CSS, HTML
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

PARIS = ZoneInfo("Europe/Paris")
VARIANT = "pdf/a-3a"
FONTS = Path(__file__).resolve().parent / "fonts"
# (family, weight, file): Marianne from the DSFR's static files, DejaVu shipped here with its licence.
FONT_FILES = (
    ("Marianne", "normal", "dsfr/dist/fonts/Marianne-Regular.woff2"),
    ("Marianne", "bold", "dsfr/dist/fonts/Marianne-Bold.woff2"),
    ("DejaVu Sans", "normal", FONTS / "DejaVuSans.ttf"),
    ("DejaVu Sans", "bold", FONTS / "DejaVuSans-Bold.ttf"),
)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDFUAID = "http://www.aiim.org/pdfua/ns/id/"
# PDF/A admits in XMP only the schemas it predefines and those described by an extension schema: pdfuaid is not
# predefined, so its one property is described here (the form PDF/A validators expect).
PDFUA_EXTENSION_SCHEMA = f"""
<rdf:Description rdf:about="" xmlns:rdf="{RDF}"
    xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
    xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
    xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
  <pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
    <pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
    <pdfaSchema:namespaceURI>{PDFUAID}</pdfaSchema:namespaceURI>
    <pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
    <pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
      <pdfaProperty:name>part</pdfaProperty:name>
      <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
      <pdfaProperty:category>internal</pdfaProperty:category>
      <pdfaProperty:description>Indicates, which part of ISO 14289 standard is followed</pdfaProperty:description>
    </rdf:li></rdf:Seq></pdfaSchema:property>
  </rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>"""
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class FontMissing(RuntimeError):
    """A font file of FONT_FILES is not where it should be (a broken install): no PDF rather than one whose text
    falls back to whatever the machine has."""


def _font_path(file: str | Path) -> Path:
    if isinstance(file, Path):
        found: str | None = str(file) if file.is_file() else None
    else:
        found = finders.find(file)
    if not found:
        raise FontMissing(f"Police introuvable pour les PDF : {file}")
    return Path(found)


def _fonts() -> dict[str, Path]:
    """The font files by the URL the style sheet names them with."""
    return {path.as_uri(): path for path in (_font_path(file) for _family, _weight, file in FONT_FILES)}


def _font_faces(fonts: dict[str, Path]) -> str:
    urls = iter(fonts)
    return "".join(
        f'@font-face {{ font-family: "{family}"; font-weight: {weight}; src: url("{next(urls)}"); }}\n'
        for family, weight, _file in FONT_FILES
    )


@cache
def _font_bytes(path: Path) -> bytes:
    """The font as WeasyPrint installs it: Marianne's WOFF2 files (the DSFR's) decompressed once per process, not at
    each rendering (a sixth of an attestation's rendering time)."""
    data = path.read_bytes()
    if data[:4] == b"wOF2":
        decompressed = BytesIO()
        woff2.decompress(BytesIO(data), decompressed)
        data = decompressed.getvalue()
    return data


class _FontsOnly(URLFetcher):
    """Serves the font files and refuses any other URL, and a refusal stops the rendering."""

    def __init__(self, fonts: dict[str, Path]):
        super().__init__(fail_on_errors=True)
        self._fonts = fonts

    def fetch(self, url, headers=None):
        path = self._fonts.get(url)
        if path is None:
            raise ValueError(f"Ressource refusée dans un PDF : {url}")
        return URLFetcherResponse(url, body=_font_bytes(path))


class _ArchivedAccessibleMetadata(DocumentMetadata):
    """WeasyPrint's XMP for the PDF/A variant, plus the PDF/UA-1 identification and its extension schema."""

    def generate_rdf_metadata(self, variant, version, conformance):
        rdf = etree.fromstring(super().generate_rdf_metadata(variant, version, conformance), XML_PARSER)
        identification = etree.SubElement(rdf, f"{{{RDF}}}Description", nsmap={"rdf": RDF, "pdfuaid": PDFUAID})
        identification.set(f"{{{RDF}}}about", "")
        identification.set(f"{{{PDFUAID}}}part", "1")
        rdf.append(etree.fromstring(PDFUA_EXTENSION_SCHEMA, XML_PARSER))
        return etree.tostring(rdf, encoding="utf-8", xml_declaration=False)


def machine_date(instant: datetime) -> str:
    """The metadata's date form (W3C, UTC)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_pdf(template_name: str, context: dict, *, created: datetime) -> bytes:
    """The PDF bytes of ``template_name`` (which extends ``pdf/base.html``) rendered with ``context``."""
    with timezone.override(PARIS):
        html = render_to_string(template_name, {**context, "pdf_created": machine_date(created)})
    fonts = _fonts()
    fetcher = _FontsOnly(fonts)
    font_config = FontConfiguration()
    font_faces = CSS(string=_font_faces(fonts), url_fetcher=fetcher, font_config=font_config)
    document = HTML(string=html, url_fetcher=fetcher).render(
        stylesheets=[font_faces], font_config=font_config, pdf_variant=VARIANT)
    document.metadata = _ArchivedAccessibleMetadata(**vars(document.metadata))
    return document.write_pdf(pdf_variant=VARIANT)
