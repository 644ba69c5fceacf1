"""The prober's per-process caches (issue 17): certificates parsed once per distinct certificate, CRL copies indexed
once as serial sets, SSL contexts made once per configuration; and no cyclic collection while a batch runs. Each
test counts the work done (``parsed``, ``indexed``, ``built``, collections) and checks that what is cached is still
right when what it was made from changes."""
import asyncio
import datetime as dt
import gc

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from django.db import connection
from django.test.utils import CaptureQueriesContext

from certificates.models import CrlCache
from tests.support import pki
from tests.support.drimbox_servers import write_pem_pair
from tests.support.lifecycle import shared_pki
from tests.weather.test_prober import (  # noqa: F401 - fixtures (redefined as parameters below: F811)
    DB,
    client_ca,
    db_issued,
    expected_dn,
    farm,
    other_pki,
    probe,
    probe_client_certificate,
    probe_settings,
)
from weather import probe_cache, prober

pytestmark = pytest.mark.django_db


def der(issued):
    return issued.cert.public_bytes(Encoding.DER)


# --- presented certificates ---------------------------------------------------------------------------------------


def test_a_certificate_is_parsed_once_and_a_changed_one_again():
    cache = probe_cache.PeerCertificates()
    first = db_issued()
    seen = cache.get(der(first))
    assert cache.get(der(first)) == seen and cache.parsed == 1
    assert (seen.subject, seen.not_after, seen.serial) == (
        first.cert.subject.rfc4514_string(), first.cert.not_valid_after_utc, first.cert.serial_number)
    assert seen.crl_urls == (pki.CRL_URL,)
    renewed = db_issued(not_after=pki.utcnow() + dt.timedelta(days=900))  # same DN, another certificate
    assert cache.get(der(renewed)).not_after == renewed.cert.not_valid_after_utc and cache.parsed == 2
    assert cache.get(der(first)) == seen and cache.parsed == 2  # both are known now


def test_a_full_certificate_cache_drops_its_oldest_half():
    cache = probe_cache.PeerCertificates(limit=4)
    certificates = [der(db_issued()) for _ in range(5)]
    for certificate in certificates:
        cache.get(certificate)
    assert cache.parsed == 5
    cache.get(certificates[4])  # the newest is kept
    assert cache.parsed == 5
    cache.get(certificates[0])  # the oldest was dropped: parsed again
    assert cache.parsed == 6


def test_an_unreadable_certificate_is_not_remembered():
    cache = probe_cache.PeerCertificates()
    for _ in range(2):
        with pytest.raises(ValueError):
            cache.get(b"not a certificate")
    assert cache.parsed == 0


def test_the_prober_parses_a_drimbox_certificate_once_then_its_renewal(settings, farm, client_ca):  # noqa: F811
    server = farm.add_db(DB, db_issued(), client_ca)
    before = probe_cache.peer_certificates.parsed
    for _ in range(3):
        assert probe(settings, farm, vi="").status == prober.OPERATIONAL
    assert probe_cache.peer_certificates.parsed == before + 1
    server.stop()
    soon = pki.utcnow() + dt.timedelta(days=5)
    farm.add_db(DB, db_issued(not_before=soon - dt.timedelta(days=300), not_after=soon), client_ca)
    result = probe(settings, farm, vi="")  # the renewed (here: soon expiring) certificate is the one judged
    assert result.status == prober.DEGRADED and result.db_not_after == soon.replace(microsecond=0)
    assert probe_cache.peer_certificates.parsed == before + 2


def test_a_presented_dn_is_compared_for_each_probe_even_when_cached(settings, farm, client_ca):  # noqa: F811
    farm.add_db(DB, db_issued(), client_ca)
    assert probe(settings, farm, vi="").status == prober.OPERATIONAL
    result = probe(settings, farm, vi="", dn=expected_dn("db8.test.mesimagesmedicales.fr"))
    assert result.status == prober.FAILING and result.db_error.startswith("db : DN inattendu")


# --- revocation lists ---------------------------------------------------------------------------------------------


def name(*attributes):
    return x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(oid, value) for oid, value in rdn])
                      for rdn in attributes])


def test_name_key_equal_exactly_when_the_names_are():
    cn, o = NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME
    pairs = [
        (name([(cn, "A")], [(o, "B")]), name([(cn, "A")], [(o, "B")])),
        (name([(cn, "A"), (o, "B")]), name([(o, "B"), (cn, "A")])),  # one RDN: its attributes are a set
        (name([(cn, "A")], [(o, "B")]), name([(o, "B")], [(cn, "A")])),  # RDN order counts
        (name([(cn, "A")]), name([(cn, "a")])),
        (name([(cn, "A")]), name([(cn, "A")], [(o, "B")])),
        (shared_pki().intermediate.cert.subject, shared_pki().intermediate.cert.subject),
        (shared_pki().intermediate.cert.subject, shared_pki().root.cert.subject),
    ]
    for first, second in pairs:
        assert (probe_cache.name_key(first) == probe_cache.name_key(second)) is (first == second), (first, second)
    assert sum(first == second for first, second in pairs) == 3  # both outcomes are exercised


def cache_crl(crl, fetched_at, url=None):
    cache, _ = CrlCache.objects.update_or_create(url=url or pki.CRL_URL, defaults={
        "der": crl.public_bytes(Encoding.DER) if crl is not None else b"garbage", "fetched_at": fetched_at})
    return cache


def peer(issued):
    return probe_cache.PeerCertificates().get(der(issued))


def test_a_crl_copy_is_indexed_once_and_its_body_read_only_then():
    index = probe_cache.RevocationIndex()
    revoked, other = db_issued(), db_issued()
    now = dt.datetime.now(dt.UTC)
    cache_crl(shared_pki().crl([revoked]), now)
    with CaptureQueriesContext(connection) as first:
        crls = index.current()
    assert index.indexed == 1 and crls[pki.CRL_URL].serials == frozenset({revoked.cert.serial_number})
    assert probe_cache.is_revoked(peer(revoked), crls) and not probe_cache.is_revoked(peer(other), crls)
    with CaptureQueriesContext(connection) as second:
        assert index.current() == crls
    assert index.indexed == 1
    assert len(second) == 1 and len(first) == 2  # the list of copies; the body only for the new copy
    assert '"der"' not in second[0]["sql"].split(" FROM ")[0]  # the body is not among the columns read


def test_a_new_crl_copy_is_indexed_again_and_a_newly_revoked_serial_found():
    index = probe_cache.RevocationIndex()
    first, second = db_issued(), db_issued()
    now = dt.datetime.now(dt.UTC)
    cache_crl(shared_pki().crl([first]), now)
    assert not probe_cache.is_revoked(peer(second), index.current())
    cache_crl(shared_pki().crl([first, second]), now + dt.timedelta(minutes=5))  # what refresh_crls stores
    crls = index.current()
    assert index.indexed == 2
    assert probe_cache.is_revoked(peer(first), crls) and probe_cache.is_revoked(peer(second), crls)


def test_a_crl_of_another_issuer_or_url_does_not_revoke():
    index = probe_cache.RevocationIndex()
    issued = db_issued()
    now = dt.datetime.now(dt.UTC)
    forged = shared_pki().crl([issued], issuer_name=shared_pki().root.cert.subject)
    cache_crl(forged, now)
    assert not probe_cache.is_revoked(peer(issued), index.current())
    cache_crl(shared_pki().crl([issued]), now, url="http://igc-sante.esante.gouv.fr/CRL/other.crl")
    assert not probe_cache.is_revoked(peer(issued), index.current())  # not a CRL the certificate points to
    assert not probe_cache.is_revoked(peer(issued), {})


def test_an_unreadable_crl_copy_is_unknown_and_not_parsed_again():
    index = probe_cache.RevocationIndex()
    cache_crl(None, dt.datetime.now(dt.UTC))
    assert index.current() == {} and index.current() == {}
    assert index.indexed == 1


# --- SSL contexts -------------------------------------------------------------------------------------------------


@pytest.fixture
def no_cached_contexts():
    probe_cache.contexts.clear()


def test_contexts_are_made_once_per_configuration(settings, probe_settings, tmp_path,  # noqa: F811
                                                  other_pki, no_cached_contexts):  # noqa: F811
    built = probe_cache.contexts.built
    first = prober.config_from_settings()
    again = prober.config_from_settings()
    assert (again.db_context, again.vi_context) == (first.db_context, first.vi_context)
    assert probe_cache.contexts.built == built + 2
    # The client certificate renewed in place (same paths, new content): a new db context, the same vi one.
    write_pem_pair(tmp_path / "client", "probe", probe_client_certificate())
    renewed = prober.config_from_settings()
    assert renewed.db_context is not first.db_context and renewed.vi_context is first.vi_context
    assert probe_cache.contexts.built == built + 3
    # Another vi bundle content: a new vi context.
    (tmp_path / "vi-ca.pem").write_bytes(other_pki.root.pem + shared_pki().root.pem)
    assert prober.config_from_settings().vi_context is not first.vi_context
    assert probe_cache.contexts.built == built + 4
    # Another trust store for db certificates: a new db context.
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(other_pki.root.pem)
    settings.IGC_SANTE_ANCHORS = [*settings.IGC_SANTE_ANCHORS, str(anchors)]
    assert prober.config_from_settings().db_context is not renewed.db_context
    assert probe_cache.contexts.built == built + 5


def test_a_replaced_client_certificate_is_the_one_presented(settings, farm, probe_settings,  # noqa: F811
                                                            tmp_path, other_pki):  # noqa: F811
    farm.add_db(DB, db_issued(), pki.cert_pem(shared_pki().root.cert, shared_pki().intermediate.cert))
    assert probe(settings, farm, vi="").status == prober.OPERATIONAL
    # The files now hold a client certificate the DRIMbox does not accept: the cached context must not hide it.
    write_pem_pair(tmp_path / "client", "probe", probe_client_certificate(other_pki))
    assert probe(settings, farm, vi="").status == prober.FAILING


# --- garbage collection -------------------------------------------------------------------------------------------


def test_no_cyclic_collection_runs_while_a_batch_is_probed(settings, farm, client_ca):  # noqa: F811
    farm.add_db(DB, db_issued(), client_ca)
    in_loop = []

    def record(phase, info):
        if phase == "start":
            in_loop.append(asyncio._get_running_loop() is not None)

    threshold = gc.get_threshold()
    gc.set_threshold(1)  # a young collection at almost every allocation, wherever the process is
    gc.callbacks.append(record)
    try:
        result = probe(settings, farm, vi="")
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*threshold)
    assert result.status == prober.OPERATIONAL and gc.isenabled()
    assert in_loop and not any(in_loop)  # collections before and after the batch, none while it runs
