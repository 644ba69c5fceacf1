"""Benchmark: build + sign a 10,000-entry whitelist, and verify it, beside ``xmlsec1 --verify``.

* build + sign: ``whitelist.builder.render`` of 10,000 entries then ``whitelist.xades.sign`` with a
  PKCS#12-like key (RSA 2048) — target ≤ 1 s median;
* verify: ``whitelist.verify.verify`` (parse, XPath-Filter-2 reference, signature with libxmlsec1,
  chain, signer, entries read from the signed content) — target ≤ 0.5 s median;
* ``xmlsec1 --verify`` (Debian ``xmlsec1``) on the same file, timed as a whole command, and the ratio
  of our verification to it (xmlsec1 checks the signature only: no chain policy, no content rules).

Median of ``BENCH_ROUNDS`` (default 5). ``BENCH_ENTRIES`` (default 10000). ``BENCH_STRICT=1`` → exit 1
when a target is missed. Run with ``bench/run whitelist``.
"""
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench_whitelist_"))

import django  # noqa: E402

django.setup()

from tests.support import pki  # noqa: E402
from tests.whitelist.signing import org_sign_certificate  # noqa: E402
from whitelist import builder, verify, xades  # noqa: E402

ENTRIES = int(os.environ.get("BENCH_ENTRIES", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")


def entries(now):
    return [builder.Entry(
        identifiant=n, db=f"db{n}.test.mesimagesmedicales.fr", vi=f"vi{n}.test.mesimagesmedicales.fr",
        denomination=f"Opérateur {n % 300}",
        dn_certificat_operateur=f"CN=db{n}.test.mesimagesmedicales.fr,OU=3{n:014d},O=Opérateur {n % 300},"
                                f"ST=Côte-d'Or (21),C=FR",
        responsable_contact=f"responsable{n}@example.fr", support_contact="support@example.fr, 01 23 45 67 89",
        date_maj=now) for n in range(1, ENTRIES + 1)]


def median_of(function):
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


def main():
    hierarchy = pki.TestPKI()
    signer = org_sign_certificate(hierarchy)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    items = entries(now)

    def build_and_sign():
        unsigned = builder.render(items, generated_at=now)
        return xades.sign(unsigned, signer.key, signer.cert, [hierarchy.intermediate.cert])

    build_time, signed = median_of(build_and_sign)

    def check():
        return verify.verify(signed, anchors=[hierarchy.root.cert], intermediates=[hierarchy.intermediate.cert],
                             check_crl=False)

    verify_time, verified = median_of(check)
    assert len(verified.entries) == ENTRIES
    print(f"list: {ENTRIES} entries, {len(signed) / 1e6:.1f} MB")
    ok_build, ok_verify = build_time <= 1.0, verify_time <= 0.5
    print(f"build + sign: median {build_time * 1000:.0f} ms over {ROUNDS} (target ≤ 1000 ms): "
          f"{'OK' if ok_build else 'MISSED'}")
    print(f"verify (ours): median {verify_time * 1000:.0f} ms over {ROUNDS} (target ≤ 500 ms): "
          f"{'OK' if ok_verify else 'MISSED'}")
    xmlsec1 = shutil.which("xmlsec1")
    if xmlsec1:
        with tempfile.TemporaryDirectory() as tmp:
            paths = {name: Path(tmp) / f"{name}.pem" for name in ("root", "intermediate")}
            paths["root"].write_bytes(hierarchy.root.pem)
            paths["intermediate"].write_bytes(hierarchy.intermediate.pem)
            document = Path(tmp) / "list.xml"
            document.write_bytes(signed)
            command = [xmlsec1, "--verify", "--trusted-pem", str(paths["root"]), "--untrusted-pem",
                       str(paths["intermediate"]), "--id-attr:Id", "SignedProperties", str(document)]

            def run():
                return subprocess.run(command, capture_output=True, check=True)

            xmlsec_time, _ = median_of(run)
        print(f"xmlsec1 --verify: median {xmlsec_time * 1000:.0f} ms over {ROUNDS}; "
              f"ours / xmlsec1 = {verify_time / xmlsec_time:.2f}")
    else:
        print("xmlsec1 --verify: skipped (Debian xmlsec1 is not installed)")
    if STRICT and not (ok_build and ok_verify):
        sys.exit(1)


if __name__ == "__main__":
    main()
