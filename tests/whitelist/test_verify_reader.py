"""The verifier's two readers of ListeDomaines agree: the one done in a few C-level passes either gives exactly
what the reader element by element gives, or steps aside (None) and lets it name the fault.

The lists are generated around the valid layout: elements dropped, repeated, swapped or renamed, a foreign
namespace, a nested element, a comment, empty or whitespace-only values, duplicate db/vi (case apart),
impossible dates.
"""
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.pki import TestPKI
from tests.whitelist.signing import build_list, org_sign_certificate, sign_list
from whitelist import verify as wl
from whitelist import xades

NS = "https://github.com/ansforge/DRIM-M_DATA"
FIELDS = wl.DOMAINE_ORDER
# database=None: no .hypothesis/ directory in the repository (failing examples are printed anyway)
FUZZ = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Besides its own valid value (most of the time), what an element may hold: collisions with the other Domaines,
# surrounding or only whitespace, nothing, impossible dates.
TRICKY = {
    "Identifiant": ["1", " 2 "],
    "db": ["db1.test.fr", "DB1.test.fr", " db2.test.fr"],
    "vi": ["vi1.test.fr", "VI1.test.fr", ""],
    "DateMAJ": [" 2026-01-02T03:04:05Z\n", "2025-02-30T10:00:00Z", "2026-01-02 03:04:05Z", "2026-03-04T05:06:07Z"],
}
TEXT = ["Opérateur & Fils <a>", "", "   ", "\u00a0", "x\ty"]


def field_value(name, n):
    own = {"Identifiant": str(n), "db": f"db{n}.test.fr", "vi": f"vi{n}.test.fr",
           "DateMAJ": "2026-01-02T03:04:05Z"}.get(name, f"{name} {n}")
    return st.sampled_from([own] * 150 + TRICKY.get(name, TEXT))


@st.composite
def domaine(draw):
    n = draw(st.integers(1, 10**6))
    names = list(FIELDS)
    if draw(st.booleans()):
        names.remove("ResponsableContact")
    mutation = draw(st.sampled_from(["none"] * 60 + ["drop", "repeat", "swap", "rename", "nest", "comment",
                                                     "foreign", "empty_element"]))
    if mutation == "drop":
        del names[draw(st.integers(0, len(names) - 1))]
    elif mutation == "repeat":
        names.insert(draw(st.integers(0, len(names))), draw(st.sampled_from(FIELDS)))
    elif mutation == "swap":
        i = draw(st.integers(0, len(names) - 2))
        names[i], names[i + 1] = names[i + 1], names[i]
    elif mutation == "rename":
        names[draw(st.integers(0, len(names) - 1))] = "Inconnu"
    parts = []
    for name in names:
        text = escape(draw(field_value(name, n)))
        if mutation == "nest" and name == "Denomination":
            text += "<b>gras</b>suite"
        if mutation == "comment" and name == "db":
            text += "<!-- note -->.fr"
        if mutation == "empty_element" and name == "vi":
            parts.append("<vi/>")
            continue
        parts.append(f"<{name}>{text}</{name}>")
    if mutation == "comment" and draw(st.booleans()):
        parts.insert(1, "<!-- entre deux éléments -->")
    tag = "x:Domaine" if mutation == "foreign" else "Domaine"
    return f"<{tag}>" + "\n".join(parts) + f"</{tag}>"


def liste(domaines):
    document = (f'<ListeBlancheDRIM-M xmlns="{NS}" xmlns:x="urn:autre" versionFormat="1.0.0">'
                f"<DateDeGeneration>2026-06-19T18:06:52Z</DateDeGeneration>"
                f"<ListeDomaines>\n{''.join(domaines)}\n</ListeDomaines></ListeBlancheDRIM-M>")
    return wl.parse(document.encode()).getroot()[1]


def at_once(element, unique_identifiant):
    """What the verifier reads in a few passes, or None (the reader element by element then reads)."""
    if not wl.layout_is_valid(element.getparent()):
        return None
    return wl._read_domaines_at_once(element, unique_identifiant)


def one_by_one(element, unique_identifiant):
    try:
        return wl._read_domaines(element, unique_identifiant)
    except wl.VerificationError as exc:
        return exc.reason_code, exc.message


def assert_same(element, unique_identifiant):
    read = at_once(element, unique_identifiant)
    if read is not None:
        expected = one_by_one(element, unique_identifiant)
        assert read == expected
        assert [list(entry) for entry in read] == [list(entry) for entry in expected]  # same element order
    return read


@FUZZ
@given(st.lists(domaine(), max_size=6), st.booleans())
def test_both_readers_agree_on_generated_lists(domaines, unique_identifiant):
    assert_same(liste(domaines), unique_identifiant)


def valid(n, *, responsable=True, vi=None):
    values = {"Identifiant": str(n), "db": f"db{n}.test.fr", "vi": f"vi{n}.test.fr" if vi is None else vi,
              "Denomination": f"Opérateur {n}", "DNCertificatOperateur": f"CN=db{n}.test.fr,O=Op",
              "ResponsableContact": f"resp{n}@example.fr", "SupportContact": "support@example.fr",
              "DateMAJ": "2026-01-02T03:04:05Z"}
    if not responsable:
        del values["ResponsableContact"]
    return "<Domaine>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in values.items()) + "</Domaine>"


@pytest.mark.parametrize("domaines", [
    [],
    [valid(1), valid(2), valid(3, vi="")],
    [valid(1, responsable=False), valid(2), valid(3, responsable=False), valid(4, vi=""), valid(5, vi="")],
    [valid(n, responsable=n % 3 != 0) for n in range(1, 40)],
], ids=["empty", "all-with-contact", "some-without-contact", "many"])
def test_a_valid_list_is_read_at_once(domaines):
    entries = assert_same(liste(domaines), unique_identifiant=True)
    assert entries is not None and len(entries) == len(domaines)


@pytest.mark.parametrize(("unusual", "refused"), [
    (valid(1).replace("<vi>", "<!-- x --><vi>"), None),  # accepted element by element: a comment is no element
    (valid(1).replace("</Denomination>", "<b/></Denomination>"), None),  # idem: the text before <b/> is read
    (valid(1) + valid(2).replace("db2.", "DB1."), "duplicate"),  # a duplicate db, case apart
    (valid(1).replace("2026-01-02T03:04:05Z", "2026-02-30T03:04:05Z"), "format"),
    (valid(1).replace("<SupportContact>support@example.fr", "<SupportContact>\u00a0"), "format"),
])
def test_anything_unusual_is_left_to_the_reader_element_by_element(unusual, refused):
    element = liste([unusual])
    assert at_once(element, False) is None
    expected = one_by_one(element, False)
    if refused is None:
        assert isinstance(expected, list) and len(expected) == 1
        assert wl.read_entries(element.getparent())[1] == expected
    else:
        assert expected[0] == refused
        with pytest.raises(wl.VerificationError) as info:
            wl.read_entries(element.getparent())
        assert (info.value.reason_code, info.value.message) == expected


def test_a_duplicate_id_inside_the_signature_of_a_well_laid_out_list_is_refused():
    # A valid layout leaves Ids to the signature only: they are still compared there.
    hierarchy = TestPKI(slot_base=0)
    signed = sign_list(build_list(), org_sign_certificate(hierarchy))
    root = wl.parse(signed).getroot()
    assert wl.layout_is_valid(root)
    props_id = root.find(f".//{{{xades.XADES}}}SignedProperties").get("Id").encode()
    duplicated = signed.replace(b"<ds:Object>", b'<ds:Object Id="' + props_id + b'">', 1)
    assert wl.layout_is_valid(wl.parse(duplicated).getroot())
    with pytest.raises(wl.VerificationError) as info:
        wl.verify(duplicated, anchors=[hierarchy.root.cert], check_crl=False)
    assert info.value.reason_code == "wrapping" and "Id en double" in info.value.message
