"""Benchmark: `db` certificates validated per second, and the time of one ACME issuance.

1. Validation: parse (PEM chain upload) + chain to the configured hierarchy + every DESIGN §6 rule,
   exactly as ``certificates.services.upload_db_certificate`` evaluates them (the CRL verdict comes
   from a CRL already in memory, as the cache serves it). Certificates from the test IGC-Santé
   hierarchy (``tests/support/pki.py``). Target: ≥ 200 certificates/s. Median of ``BENCH_ROUNDS``
   rounds of ``BENCH_CERTIFICATES`` validations.
2. ACME: one `vi` issuance (order, DNS-01 through RFC 2136 on a real BIND 9, propagation check,
   finalize, chain) against Pebble on 127.0.0.1, median of ``BENCH_ISSUANCES``. Skipped, with a
   line saying so, when Debian ``pebble`` or ``bind9`` is missing.

Run with ``bench/run certificates``. Knobs: ``BENCH_CERTIFICATES`` (default 500), ``BENCH_ROUNDS``
(default 5), ``BENCH_ISSUANCES`` (default 5), ``BENCH_STRICT=1`` (exit 1 when the target is missed).
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402

from certificates import validation  # noqa: E402
from tests.support import pki  # noqa: E402

N_CERTIFICATES = int(os.environ.get("BENCH_CERTIFICATES", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ISSUANCES = int(os.environ.get("BENCH_ISSUANCES", "5"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")
TARGET_PER_SECOND = 200


def bench_validation():
    hierarchy = pki.TestPKI()
    uploads = [hierarchy.db_certificate(f"db{n}.test.mesimagesmedicales.fr").chain_pem for n in range(50)]
    crl = hierarchy.crl()
    anchors, intermediates = [hierarchy.root.cert], [hierarchy.intermediate.cert]

    def crl_status(certificate, issuer):
        return validation.crl_verdict(certificate, issuer, crl, at=hierarchy.now)

    rates = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for index in range(N_CERTIFICATES):
            data = uploads[index % len(uploads)]
            leaf, *extra = validation.parse_certificate_upload(data)
            results = validation.check_db_certificate(
                leaf, extra_chain=extra, anchors=anchors, intermediates=intermediates,
                expected_cn=f"db{index % len(uploads)}.test.mesimagesmedicales.fr", expected_ou=pki.ID_NAT_STRUCT,
                at=hierarchy.now, crl_status=crl_status)
            if not all(result.ok for result in results):
                raise SystemExit(f"a valid certificate failed a rule: {[r for r in results if not r.ok]}")
        rates.append(N_CERTIFICATES / (time.perf_counter() - started))
    median = statistics.median(rates)
    print(f"validation: {N_CERTIFICATES} certificates × {ROUNDS} rounds — median {median:.0f}/s "
          f"(min {min(rates):.0f}, max {max(rates):.0f}); target ≥ {TARGET_PER_SECOND}/s: "
          f"{'OK' if median >= TARGET_PER_SECOND else 'MISSED'}")
    return median >= TARGET_PER_SECOND


def bench_acme():
    from certificates import acme_client
    from tests.support.dns_server import named_available, running_bind
    from tests.support.pebble import pebble_available, running_pebble

    if not (pebble_available() and named_available()):
        print("acme: skipped (Debian pebble and bind9 are needed)")
        return True
    with tempfile.TemporaryDirectory(prefix="bench_acme_") as tmp:
        with running_bind(Path(tmp) / "bind") as bind, \
                running_pebble(Path(tmp) / "pebble", dns_server=f"{bind.host}:{bind.port}") as pebble:
            settings = acme_client.AcmeSettings(directory_url=pebble.directory_url, ca_bundle=pebble.ca_bundle,
                                                propagation_timeout=30)
            key = acme_client.new_account_key()
            acme_client.register_account(settings, key)
            dns = bind.client()
            durations = []
            for n in range(ISSUANCES + 1):  # the first one warms the connection up
                csr, _key = pki.build_csr(f"vi{900 + n}.test.mesimagesmedicales.fr")
                started = time.perf_counter()
                issued = acme_client.issue_certificate(settings, key, pki.csr_pem(csr), dns=dns)
                elapsed = time.perf_counter() - started
                x509.load_pem_x509_certificates(issued.chain_pem.encode())
                if n:
                    durations.append(elapsed)
    print(f"acme: one vi issuance against Pebble + BIND 9 — median {statistics.median(durations) * 1000:.0f} ms "
          f"over {ISSUANCES} (min {min(durations) * 1000:.0f}, max {max(durations) * 1000:.0f})")
    return True


def main():
    ok = bench_validation()
    bench_acme()
    if STRICT and not ok:
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")
    main()
