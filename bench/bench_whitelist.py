"""Benchmark: build + sign a 10,000-entry whitelist, and verify it beside ``xmlsec1 --verify`` in the same run.

* build + sign: ``whitelist.builder.render`` of 10,000 entries then ``whitelist.xades.sign`` with a
  PKCS#12-like key (RSA 2048) — target ≤ 400 ms median; printed beside what parsing, canonicalising and
  hashing the unsigned list costs in the same rounds (a signer of these bytes cannot do less);
* verify: ``whitelist.verify.verify`` (parse, XPath-Filter-2 reference and signature by libxmlsec1, chain,
  signer, entries read from the signed content) and ``xmlsec1 --verify`` (Debian ``xmlsec1``) on the same file,
  timed as a whole command, round after round in alternating order so that both see the same machine — target:
  ours ≤ 1.25 × xmlsec1 (ratio of the medians). xmlsec1 checks the signature only: no chain policy, no content
  rules. The CPU time of both is printed too (ours: this process, every thread; xmlsec1: the child process).

Median of ``BENCH_ROUNDS`` (default 7), after one untimed round. ``BENCH_ENTRIES`` (default 10000).
``BENCH_STRICT=1`` → exit 1 when a target is missed. Run with ``bench/run whitelist``.
"""
import datetime as dt
import hashlib
import os
import resource
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

import benchlib  # noqa: E402
from lxml import etree  # noqa: E402

from tests.support import pki  # noqa: E402
from tests.whitelist.signing import org_sign_certificate  # noqa: E402
from whitelist import builder, verify, xades  # noqa: E402

ENTRIES = int(os.environ.get("BENCH_ENTRIES", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")
TARGET_BUILD_SIGN_MS = 400
TARGET_RATIO = 1.25


def entries(now):
    return [builder.Entry(
        identifiant=n, db=f"db{n}.test.mesimagesmedicales.fr", vi=f"vi{n}.test.mesimagesmedicales.fr",
        denomination=f"Opérateur {n % 300}",
        dn_certificat_operateur=f"CN=db{n}.test.mesimagesmedicales.fr,OU=3{n:014d},O=Opérateur {n % 300},"
                                f"ST=Côte-d'Or (21),C=FR",
        responsable_contact=f"responsable{n}@example.fr", support_contact="support@example.fr, 01 23 45 67 89",
        date_maj=now) for n in range(1, ENTRIES + 1)]


def timed(function):
    """(wall seconds, CPU seconds of this process, result)."""
    cpu, started = time.process_time(), time.perf_counter()
    result = function()
    return time.perf_counter() - started, time.process_time() - cpu, result


def timed_command(command):
    """(wall seconds, CPU seconds of the child) of one run of ``command``."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def main():
    hierarchy = pki.TestPKI()
    signer = org_sign_certificate(hierarchy)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    items = entries(now)

    def build_and_sign():
        unsigned = builder.render(items, generated_at=now)
        return xades.sign(unsigned, signer.key, signer.cert, [hierarchy.intermediate.cert])

    unsigned = builder.render(items, generated_at=now)

    def canonical_digest():  # what any signer of these bytes pays: parse, exclusive c14n, SHA-256
        return hashlib.sha256(xades.exc_c14n(etree.ElementTree(etree.fromstring(unsigned, xades.safe_parser()))))

    signed = build_and_sign()  # the untimed round
    build, floor = [], []
    for _ in range(ROUNDS):
        build.append(timed(build_and_sign)[:2])
        floor.append(timed(canonical_digest)[:2])
    build_wall = statistics.median(wall for wall, _cpu in build)
    print(f"list: {ENTRIES} entries, {len(signed) / 1e6:.1f} MB")
    print(f"build + sign: median {ms(build_wall)} over {ROUNDS} (CPU {ms(statistics.median(c for _w, c in build))})")
    print(f"  beside parse + exc-c14n + SHA-256 of the unsigned list, same rounds: median "
          f"{ms(statistics.median(w for w, _c in floor))} (CPU {ms(statistics.median(c for _w, c in floor))})")

    def check():
        return verify.verify(signed, anchors=[hierarchy.root.cert], intermediates=[hierarchy.intermediate.cert],
                             check_crl=False)

    assert len(check().entries) == ENTRIES
    missed = not benchlib.report_target("whitelist.build_sign", build_wall * 1000, TARGET_BUILD_SIGN_MS, "ms")
    xmlsec1 = shutil.which("xmlsec1")
    if not xmlsec1:
        print("xmlsec1 --verify: not installed (Debian xmlsec1): no reference, no ratio")
        ours = [timed(check)[:2] for _ in range(ROUNDS)]
        print(f"verify (ours): median {ms(statistics.median(w for w, _c in ours))} over {ROUNDS}")
        return missed
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.pem" for name in ("root", "intermediate")}
        paths["root"].write_bytes(hierarchy.root.pem)
        paths["intermediate"].write_bytes(hierarchy.intermediate.pem)
        document = Path(tmp) / "list.xml"
        document.write_bytes(signed)
        command = [xmlsec1, "--verify", "--trusted-pem", str(paths["root"]), "--untrusted-pem",
                   str(paths["intermediate"]), "--id-attr:Id", "SignedProperties", str(document)]
        timed_command(command)  # the untimed round
        ours, reference = [], []
        for round_number in range(ROUNDS):  # alternating which goes first: both see the same load
            if round_number % 2:
                reference.append(timed_command(command))
                ours.append(timed(check)[:2])
            else:
                ours.append(timed(check)[:2])
                reference.append(timed_command(command))
    ours_wall, ours_cpu = (statistics.median(values) for values in zip(*ours, strict=True))
    ref_wall, ref_cpu = (statistics.median(values) for values in zip(*reference, strict=True))
    paired = statistics.median(o[0] / r[0] for o, r in zip(ours, reference, strict=True))
    print(f"verify (ours):    median {ms(ours_wall)} over {ROUNDS} (CPU {ms(ours_cpu)}, every thread)")
    print(f"xmlsec1 --verify: median {ms(ref_wall)} over {ROUNDS} (CPU {ms(ref_cpu)}), same rounds")
    print(f"ours / xmlsec1: {ours_wall / ref_wall:.2f} (medians), {paired:.2f} (median of the rounds' ratios), "
          f"CPU {ours_cpu / ref_cpu:.2f}")
    missed |= not benchlib.report_target("whitelist.verify_vs_xmlsec1", ours_wall / ref_wall, TARGET_RATIO, "x")
    return missed


if __name__ == "__main__":
    sys.exit(1 if main() and STRICT else 0)
