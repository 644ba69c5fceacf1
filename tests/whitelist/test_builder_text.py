"""``builder.render`` writes the Domaines as text: byte for byte what lxml writes for the same tree, and the same
refusal (type and message) for the first entry that cannot be written.

The reference below builds the whole tree with lxml, element by element, as the builder did before.
"""
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from whitelist import builder
from whitelist.builder import Entry

NAMESPACES = ["https://github.com/ansforge/DRIM-M_DATA", "https://listeblanche.mesimagesmedicales.fr/schema"]
GENERATED = dt.datetime(2026, 6, 19, 18, 6, 52, tzinfo=dt.UTC)
# database=None: no .hypothesis/ directory in the repository (failing examples are printed anyway)
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def lxml_render(entries, *, generated_at, namespace):
    def q(name):
        return f"{{{namespace}}}{name}"

    root = etree.Element(q(builder.ROOT_NAME), nsmap={None: namespace})
    root.set("versionFormat", builder.VERSION_FORMAT)
    etree.SubElement(root, q("DateDeGeneration")).text = builder.format_date(generated_at)
    domaines = etree.SubElement(root, q("ListeDomaines"))
    for entry in entries:
        if entry.date_maj is None:
            raise ValueError(f"L'entrée {entry.identifiant} n'a pas de DateMAJ.")
        domaine = etree.SubElement(domaines, q("Domaine"))
        etree.SubElement(domaine, q("Identifiant")).text = str(int(entry.identifiant))
        for name, element in builder.PUBLISHED_FIELDS:
            value = getattr(entry, name) or ""
            builder._refuse_unreadable(entry, element, value)
            if not value and element in builder.OPTIONAL_ELEMENTS:
                continue
            etree.SubElement(domaine, q(element)).text = value
        etree.SubElement(domaine, q("DateMAJ")).text = builder.format_date(entry.date_maj)
    etree.indent(root, space=builder.INDENT)
    return builder.XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def outcome(render, entries, namespace):
    try:
        return render(entries, generated_at=GENERATED, namespace=namespace)
    except Exception as exc:  # noqa: BLE001 - the refusal itself is compared
        return type(exc), str(exc)


def now_and_then(usual, unusual, one_in=25):
    return st.integers(0, one_in - 1).flatmap(lambda k: unusual if k == 0 else usual)


# Mostly ordinary text; now and then what needs escaping, a no-break space (allowed, yet not isprintable()),
# an empty value or None, or a forbidden character (bidi override, zero-width space, a control character).
TEXT = now_and_then(
    st.text(alphabet="abcdéèçôÉ0123456789 .,'@-()", max_size=20),
    st.sampled_from(["Dupont & Fils <support>", "a > b", '"A"', "\u00a0Opérateur", "", None,
                     "Op\u202eérateur", "zéro\u200blargeur", "ligne\nsuivante", "tab\tulation"]),
    one_in=8)
DATES = now_and_then(
    st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1),
                 timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2))])),
    st.sampled_from([None, dt.datetime(2025, 1, 1, 10, 0)]))  # missing, naive


@st.composite
def entries(draw):
    drawn = []
    for n in range(draw(st.integers(0, 6))):
        values = {name: draw(TEXT) for name, _element in builder.PUBLISHED_FIELDS}
        identifiant = draw(now_and_then(st.sampled_from([n + 1, str(n + 1)]), st.just("x")))
        drawn.append(Entry(identifiant=identifiant, date_maj=draw(DATES), **values))
    return drawn


@FUZZ
@given(entries(), st.sampled_from(NAMESPACES))
def test_the_text_writer_gives_the_bytes_and_the_refusals_of_lxml(drawn, namespace):
    assert outcome(builder.render, drawn, namespace) == outcome(lxml_render, drawn, namespace)


def test_a_plain_list_is_written_as_lxml_writes_it():
    drawn = [Entry(identifiant=n, db=f"db{n}.test.fr", vi="" if n % 4 == 0 else f"vi{n}.test.fr",
                   denomination=f"Opérateur {n % 3} & fils", dn_certificat_operateur=f"CN=db{n}.test.fr,C=FR",
                   responsable_contact="" if n % 3 == 0 else f"r{n}@example.fr", support_contact="s@example.fr",
                   date_maj=GENERATED - dt.timedelta(days=n % 5)) for n in range(1, 60)]
    data = builder.render(drawn, generated_at=GENERATED, namespace=NAMESPACES[0])
    assert data == lxml_render(drawn, generated_at=GENERATED, namespace=NAMESPACES[0])
    assert data.count(b"<Domaine>") == 59 and data.count(b"<ResponsableContact>") == 59 - 59 // 3
