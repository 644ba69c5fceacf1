"""The whitelist builder (DESIGN §7): entries from the current state, exact XML, DateMAJ, diff."""
import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from lxml import etree

from certificates import services as cs
from certificates.models import Certificate
from operators import services as operator_services
from operators.models import DrimboxStatus, RequestKind
from tests.support.lifecycle import active_drimbox, approve, declared_drimbox, shared_pki
from whitelist import builder, services
from whitelist.builder import Entry
from whitelist.models import PublishedEntry

NS = "https://github.com/ansforge/DRIM-M_DATA"
UTC = dt.UTC
GENERATED = dt.datetime(2026, 6, 19, 18, 6, 52, tzinfo=UTC)
REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "drim-m"
ANS_SAMPLE = REFERENCE / "ansforge-DRIM-M_DATA/referencement-liste-blanche-test/LISTEBLANCHE_DRIM-M_NONSIGNEE_TEST.xml"
DOMAINE_ORDER = ["Identifiant", "db", "vi", "Denomination", "DNCertificatOperateur", "ResponsableContact",
                 "SupportContact", "DateMAJ"]


def entry(identifiant=1, **overrides):
    values = {
        "identifiant": identifiant, "db": f"db{identifiant}.test.mesimagesmedicales.fr",
        "vi": f"vi{identifiant}.test.mesimagesmedicales.fr", "denomination": "E-MEDIA",
        "dn_certificat_operateur": f"CN=db{identifiant}.test.mesimagesmedicales.fr,OU=300000001831981,"
                                   "O=E-MEDIA,ST=Côte-d'Or (21),C=FR",
        "responsable_contact": "responsable@example.fr", "support_contact": "support@example.fr, 01 23 45 67 89",
        "date_maj": dt.datetime(2025, 7, 22, 11, 27, 12, tzinfo=UTC),
    }
    values.update(overrides)
    return Entry(**values)


def local(element):
    return etree.QName(element).localname


def parse(data):
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))


def db_certificate_of(drimbox):
    return Certificate.objects.get(drimbox=drimbox, kind="db", superseded_at__isnull=True, revoked_at__isnull=True)


def publish(now):
    entries = builder.current_entries(now=now)
    with transaction.atomic():
        services.record_published(entries, at=now)
    return entries


# --- entries from the current state --------------------------------------------------------------


def test_active_drimbox_with_a_current_db_certificate_is_listed(world, box):
    [only] = builder.current_entries()
    cert = db_certificate_of(box)
    assert only.identifiant == box.identifiant
    assert (only.db, only.vi) == (box.db_fqdn, box.vi_fqdn)
    assert only.denomination == world.operator.name == "Opérateur A"
    assert only.dn_certificat_operateur == cert.subject and cert.subject.startswith(f"CN={box.db_fqdn},")
    assert only.support_contact == box.support_contact
    assert only.responsable_contact == box.responsable_contact
    assert builder.missing_certificates() == []


def test_drimboxes_without_a_valid_db_certificate_are_reported_not_listed(world, box):
    later = db_certificate_of(box).not_after + dt.timedelta(seconds=1)
    assert builder.current_entries(now=later) == []
    assert builder.missing_certificates(now=later) == [box]
    # A certificate of another operator (e.g. before a switch) does not count.
    Certificate.objects.filter(drimbox=box, kind="db").update(operator=world.other_operator)
    assert builder.current_entries() == []
    Certificate.objects.filter(drimbox=box, kind="db").update(operator=world.operator, revoked_at=timezone.now())
    assert builder.current_entries() == []
    assert [d.identifiant for d in builder.missing_certificates()] == [box.identifiant]


def test_declared_and_withdrawn_drimboxes_are_absent_and_order_is_by_identifiant(world, box):
    declared = declared_drimbox(world.operator, world.legal, world.ans)
    second = active_drimbox(world.operator, world.legal, world.ans)
    assert [e.identifiant for e in builder.current_entries()] == sorted([box.identifiant, second.identifiant])
    assert declared.identifiant not in [e.identifiant for e in builder.current_entries()]
    approve(operator_services.submit_request(operator_services.create_request(
        acting_user=world.legal, operator=world.operator, kind=RequestKind.WITHDRAWAL, drimbox=box,
        data={"reason": "Fermeture du site"}), acting_user=world.legal), world.ans)
    box.refresh_from_db()
    assert box.status == DrimboxStatus.WITHDRAWN
    assert [e.identifiant for e in builder.current_entries()] == [second.identifiant]
    assert builder.missing_certificates() == []


# --- DateMAJ ----------------------------------------------------------------------------------------


def test_date_maj_changes_only_when_a_published_field_changes(world, box):
    t0 = timezone.now().astimezone(UTC).replace(microsecond=123456)
    [first] = publish(t0)
    assert first.date_maj == t0.replace(microsecond=0)
    assert PublishedEntry.objects.get(identifiant=box.identifiant).date_maj == first.date_maj

    # Nothing changed: DateMAJ stays, and so do the bytes.
    t1 = t0 + dt.timedelta(hours=1)
    [same] = builder.current_entries(now=t1)
    assert same == first
    assert builder.render([same], generated_at=t1, namespace=NS) == builder.render([first], generated_at=t1,
                                                                                       namespace=NS)
    publish(t1)
    assert PublishedEntry.objects.get(identifiant=box.identifiant).date_maj == first.date_maj

    # The support contact changes through an approved UPDATE request.
    req = operator_services.create_request(
        acting_user=world.technical, operator=world.operator, kind=RequestKind.UPDATE,
        drimbox=box)
    operator_services.update_request(req, acting_user=world.technical, data={"support_contact": "hotline@example.fr"})
    approve(operator_services.submit_request(req, acting_user=world.technical), world.ans)
    t2 = t0 + dt.timedelta(hours=2)
    [updated] = builder.current_entries(now=t2)
    assert updated.support_contact == "hotline@example.fr"
    assert updated.date_maj == t2.replace(microsecond=0)
    assert builder.diff([first], [updated])["changed"][0]["fields"] == {
        "SupportContact": (first.support_contact, "hotline@example.fr")}
    assert PublishedEntry.objects.get(identifiant=box.identifiant).date_maj == first.date_maj  # not persisted
    publish(t2)
    t3 = t0 + dt.timedelta(hours=3)
    [after] = builder.current_entries(now=t3)
    assert after.date_maj == t2.replace(microsecond=0)

    # A renewed db certificate with the same DN changes nothing; one with another DN does.
    assert "ST=Côte-d'Or (21)" in after.dn_certificat_operateur
    for state in ("Côte-d'Or (21)", "Paris (75)"):
        issued = shared_pki().db_certificate(box.db_fqdn, id_nat_struct=world.operator.id_nat_struct, state=state)
        cs.upload_db_certificate(box, acting_user=world.technical,
                                 uploaded_file=SimpleUploadedFile("db.pem", issued.chain_pem))
        [renewed] = builder.current_entries(now=t3)
        assert renewed.dn_certificat_operateur == db_certificate_of(box).subject
        if state == "Côte-d'Or (21)":
            assert renewed == after  # same DN: same entry, same DateMAJ
    assert renewed.dn_certificat_operateur.endswith(",ST=Paris (75),C=FR")
    assert renewed.date_maj == t3.replace(microsecond=0)
    assert list(builder.diff([after], [renewed])["changed"][0]["fields"]) == ["DNCertificatOperateur"]


def test_record_published_forgets_removed_entries(db):
    at = dt.datetime(2026, 3, 1, tzinfo=UTC)
    with transaction.atomic():
        services.record_published([entry(1), entry(2)], at=at)
    with transaction.atomic():
        services.record_published([entry(2)], at=at + dt.timedelta(days=1))
    assert list(PublishedEntry.objects.values_list("identifiant", flat=True)) == [2]


# --- XML --------------------------------------------------------------------------------------------


def test_render_is_the_design_format():
    entries = [entry(1), entry(175, vi="", responsable_contact="")]
    data = builder.render(entries, generated_at=GENERATED, namespace=NS)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="no"?><ListeBlancheDRIM-M xmlns="'
                           + NS.encode() + b'" versionFormat="1.0.0">\n    <DateDeGeneration>2026-06-19T18:06:52Z'
                           b'</DateDeGeneration>\n    <ListeDomaines>\n        <Domaine>\n            '
                           b'<Identifiant>1</Identifiant>\n')
    assert data.endswith(b"</ListeDomaines>\n</ListeBlancheDRIM-M>")
    assert b"\r" not in data and b"\t" not in data
    assert "ST=Côte-d'Or (21)".encode() in data  # UTF-8, apostrophe kept as is
    # Without viewer: an empty vi element, written as ANS's sample writes it (not left out, not <vi/>).
    assert b"<vi></vi>" in data and b"<vi/>" not in data
    root = parse(data)
    assert etree.QName(root).namespace == NS and local(root) == "ListeBlancheDRIM-M"
    assert root.get("versionFormat") == "1.0.0"
    assert [local(c) for c in root] == ["DateDeGeneration", "ListeDomaines"]
    first, second = root.find(f"{{{NS}}}ListeDomaines")
    assert [local(c) for c in first] == DOMAINE_ORDER
    assert [local(c) for c in second] == [n for n in DOMAINE_ORDER if n != "ResponsableContact"]
    assert [c.text for c in first] == ["1", "db1.test.mesimagesmedicales.fr", "vi1.test.mesimagesmedicales.fr",
                                       "E-MEDIA", entry(1).dn_certificat_operateur, "responsable@example.fr",
                                       "support@example.fr, 01 23 45 67 89", "2025-07-22T11:27:12Z"]
    assert second.find(f"{{{NS}}}vi").text is None


def test_render_escapes_and_round_trips_special_characters():
    tricky = "Dupont & Fils <support> l'équipe \"A\""
    data = builder.render([entry(7, denomination=tricky, support_contact=tricky)], generated_at=GENERATED,
                          namespace=NS)
    assert b"&amp;" in data and b"&lt;support&gt;" in data
    [domaine] = parse(data).find(f"{{{NS}}}ListeDomaines")
    assert domaine.find(f"{{{NS}}}Denomination").text == tricky
    assert domaine.find(f"{{{NS}}}SupportContact").text == tricky


def test_render_is_deterministic_and_uses_the_setting(settings):
    entries = [entry(1), entry(2)]
    local_time = GENERATED.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert builder.render(entries, generated_at=GENERATED, namespace=NS) == builder.render(
        list(entries), generated_at=local_time, namespace=NS)
    settings.WHITELIST_NAMESPACE = "https://listeblanche.mesimagesmedicales.fr/schema"
    root = parse(builder.render(entries, generated_at=GENERATED))
    assert etree.QName(root).namespace == "https://listeblanche.mesimagesmedicales.fr/schema"
    with pytest.raises(ValueError):
        builder.render(entries, generated_at=dt.datetime(2026, 1, 1), namespace=NS)


def test_rendered_state_parses_with_the_certificate_dn(world, box):
    data = builder.render(builder.current_entries(), generated_at=GENERATED, namespace=NS)
    [domaine] = parse(data).find(f"{{{NS}}}ListeDomaines")
    assert domaine.find(f"{{{NS}}}DNCertificatOperateur").text == db_certificate_of(box).subject
    assert domaine.find(f"{{{NS}}}Denomination").text == "Opérateur A"


def test_render_matches_the_ans_sample_structure():
    sample = parse(ANS_SAMPLE.read_bytes())
    namespace = etree.QName(sample).namespace

    def rows(root):
        return [[(local(c), (c.text or "").strip()) for c in d] for d in root.iter(f"{{{namespace}}}Domaine")]

    def when(text):
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)

    entries = []
    for row in rows(sample):
        values = dict(row)
        entries.append(Entry(
            identifiant=int(values["Identifiant"]), db=values["db"], vi=values["vi"],
            denomination=values["Denomination"], dn_certificat_operateur=values["DNCertificatOperateur"],
            responsable_contact=values.get("ResponsableContact", ""), support_contact=values["SupportContact"],
            date_maj=when(values["DateMAJ"])))
    generated = sample.find(f"{{{namespace}}}DateDeGeneration").text
    ours = parse(builder.render(entries, generated_at=when(generated), namespace=namespace))
    assert (ours.tag, ours.attrib) == (sample.tag, sample.attrib)
    assert ours.find(f"{{{namespace}}}DateDeGeneration").text == generated
    assert rows(ours) == rows(sample) and len(entries) > 1


# --- diff -------------------------------------------------------------------------------------------


def test_diff_added_removed_changed():
    before = [entry(1), entry(2), entry(3)]
    after = [entry(2, date_maj=GENERATED), entry(3, vi="", support_contact="new@example.fr"), entry(4)]
    result = builder.diff(before, after)
    assert [e.identifiant for e in result["added"]] == [4]
    assert [e.identifiant for e in result["removed"]] == [1]
    [change] = result["changed"]  # entry 2: only DateMAJ differs, not a change
    assert change["identifiant"] == 3
    assert change["fields"] == {"vi": ("vi3.test.mesimagesmedicales.fr", ""),
                                "SupportContact": ("support@example.fr, 01 23 45 67 89", "new@example.fr")}
    assert builder.diff(after, after) == {"added": [], "removed": [], "changed": []}
