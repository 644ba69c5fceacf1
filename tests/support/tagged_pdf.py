"""Reading a PDF the way assistive technology and archives do (pypdf): its structure tree, the text of each
tagged element in the tree's order, its XMP identification, and the content drawn outside any tag.

No PDF validator runs here, so the checks that matter for PDF/UA and PDF/A are made on the file itself:
- every text drawn is inside marked content that the structure tree reaches, or is an artifact;
- the tree's elements, read depth-first, give the text in reading order;
- the catalogue says the document is tagged (MarkInfo), in French (Lang), shows its title, and the XMP carries
  the PDF/A and PDF/UA identifications.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from lxml import etree
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NumberObject

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"
PDFUAID = "http://www.aiim.org/pdfua/ns/id/"
# Elements whose text is one block for a reader (the others, Span, Link…, belong to the nearest such block).
BLOCKS = {"/H1", "/H2", "/H3", "/H4", "/H5", "/H6", "/P", "/TH", "/TD", "/LI", "/LBody", "/Caption"}
TEXT_OPERATORS = {b"Tj", b"TJ", b"'", b'"'}


@dataclass
class TaggedPdf:
    reader: PdfReader
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (tag, text) in the tree's order
    # (texts of the header cells a data cell names in its Headers attribute, the cell's text), in the tree's order
    labelled_cells: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    untagged_text_operations: int = 0

    @property
    def catalog(self) -> DictionaryObject:
        return self.reader.trailer["/Root"]

    def xmp(self) -> etree._Element:
        data = self.catalog["/Metadata"].get_object().get_data()
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        return etree.fromstring(data, parser)

    def identification(self) -> dict[str, str]:
        """pdfaid:part, pdfaid:conformance, pdfuaid:part as written in the XMP (attributes or elements)."""
        found = {}
        for description in self.xmp().iter(f"{{{RDF}}}Description"):
            for namespace, prefix in ((PDFAID, "pdfaid"), (PDFUAID, "pdfuaid")):
                for name in ("part", "conformance"):
                    value = description.get(f"{{{namespace}}}{name}")
                    child = description.find(f"{{{namespace}}}{name}")
                    if value is None and child is not None:
                        value = child.text
                    if value is not None:
                        found[f"{prefix}:{name}"] = value
        return found

    def texts(self, tag: str) -> list[str]:
        return [text for block_tag, text in self.blocks if block_tag == tag]

    def reading_order(self) -> str:
        return "\n".join(text for _tag, text in self.blocks)


def _marked_texts(page) -> tuple[dict[int, str], int]:
    """Text drawn in each marked content of the page (by MCID), and the count of text operations drawn outside
    both an MCID and an artifact."""
    texts: dict[int, list[str]] = {}
    stack: list[int | str | None] = []
    untagged = 0

    def current():
        for entry in reversed(stack):
            if entry is not None:
                return entry
        return None

    def before(operator, operands, _cm, _tm):
        nonlocal untagged
        if operator in (b"BDC", b"BMC"):
            properties = operands[1] if operator == b"BDC" and len(operands) > 1 else None
            if operands[0] == "/Artifact":
                stack.append("artifact")
            elif isinstance(properties, DictionaryObject) and "/MCID" in properties:
                stack.append(int(properties["/MCID"]))
            else:
                stack.append(None)
        elif operator == b"EMC":
            stack.pop()
        elif operator in TEXT_OPERATORS and current() is None:
            untagged += 1

    def text(value, _cm, _tm, _font, _size):
        owner = current()
        if isinstance(owner, int):
            texts.setdefault(owner, []).append(value)

    page.extract_text(visitor_operand_before=before, visitor_text=text)
    return {mcid: "".join(parts) for mcid, parts in texts.items()}, untagged


def _walk(element, texts, tags, blocks, block=None):
    element = element.get_object()
    tag = element.get("/S")
    if tag is not None:
        tags.add(str(tag)[1:])
    if tag in BLOCKS:
        attributes = element.get("/A")
        headers = attributes.get("/Headers", []) if isinstance(attributes, DictionaryObject) else []
        block = [str(tag)[1:], "", str(element.get("/ID", "")), [str(header) for header in headers]]
        blocks.append(block)
    page = element.raw_get("/Pg").idnum if "/Pg" in element else None
    kids = element.get("/K", [])
    if not isinstance(kids, ArrayObject):
        kids = [kids]
    for kid in kids:
        if isinstance(kid, NumberObject | int):
            if block is not None and page is not None:
                block[1] += texts[page].get(int(kid), "")
        elif isinstance(kid, IndirectObject | DictionaryObject):
            kid_object = kid.get_object()
            if kid_object.get("/Type") in ("/OBJR",):
                continue
            if kid_object.get("/Type") == "/MCR":
                if block is not None:
                    block[1] += texts[kid_object.raw_get("/Pg").idnum].get(int(kid_object["/MCID"]), "")
                continue
            _walk(kid, texts, tags, blocks, block)


def read(content: bytes) -> TaggedPdf:
    reader = PdfReader(io.BytesIO(content))
    result = TaggedPdf(reader=reader)
    texts = {}
    for page in reader.pages:
        texts[page.indirect_reference.idnum], untagged = _marked_texts(page)
        result.untagged_text_operations += untagged
    root = result.catalog.get("/StructTreeRoot")
    if root is not None:
        blocks: list[list] = []
        _walk(root, texts, result.tags, blocks)
        result.blocks = [(tag, " ".join(text.split())) for tag, text, _id, _headers in blocks if text.strip()]
        header_texts = {ident: " ".join(text.split()) for tag, text, ident, _headers in blocks if tag == "TH"}
        result.labelled_cells = [(tuple(header_texts.get(header, "?") for header in headers), " ".join(text.split()))
                                 for tag, text, _id, headers in blocks if tag == "TD"]
    return result
