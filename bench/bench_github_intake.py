"""Benchmark: parsing of GitHub issue bodies by the whitelist intake (``whitelist.github_intake.parse_issue``).

* 64 KiB of spaces (the largest body read with the default ``WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES``) —
  target < 50 ms median;
* a 1 MiB body (an issue form followed by 1 MiB of text): set aside « en quarantaine » for its size without
  being scanned — target < 50 ms median;
* for information, other hostile bodies of 64 KiB: the former regex's worst case (``### a`` + spaces + ``x``),
  one ``### a`` heading per line, a NUL on every line (the slow path of the cleaning), and the same 1 MiB body
  parsed with the size limit lifted (the scanner alone on 1 MiB);
* once, the former section regex on 16 KiB of its worst case, to compare (it grows quadratically: ~16 times as
  long on 64 KiB).

Median of ``BENCH_ROUNDS`` (default 9). ``BENCH_STRICT=1`` → exit 1 when a target is missed. No database is
used. Run with ``bench/run github_intake``.
"""
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trustspace.settings")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench_github_intake_"))

import django  # noqa: E402

django.setup()

from whitelist import github_issues as github_intake  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
STRICT = os.environ.get("BENCH_STRICT", "") not in ("", "0")
TARGET_MS = 50
KIB = 1024
MIB = 1024 * KIB
FORM = ("### Nom\n\nE-MEDIA\n\n### Description\n\nNouvelle DRIMbox du site de Dijon.\n\n### DNCertificatOperateur\n\n"
        "CN=db175.test.mesimagesmedicales.fr,OU=300000001831981,O=E-MEDIA,ST=Côte-d'Or (21),C=FR\n\n")
FORMER_SECTION = re.compile(r"^#{3}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)  # the regex replaced in issue 12


def median_ms(function, *args):
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        function(*args)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def parse(body, max_bytes=None):
    return github_intake.parse_issue("[Add] nouvelle DRIMbox", body, max_bytes=max_bytes)


def main():
    limit = github_intake.max_body_bytes()
    spaces = " " * (64 * KIB)
    huge = FORM + "x" * MIB
    assert parse(spaces).quarantine_reason == "" and parse(huge).quarantine_reason  # read / set aside
    print(f"size limit: WHITELIST_GITHUB_INTAKE_MAX_BODY_BYTES={limit}")
    missed = False
    for label, body in (("64 KiB of spaces", spaces), ("1 MiB body (quarantined for its size)", huge)):
        ms = median_ms(parse, body)
        missed |= ms >= TARGET_MS
        print(f"{label}: median {ms:.2f} ms over {ROUNDS} (target < {TARGET_MS} ms): "
              f"{'OK' if ms < TARGET_MS else 'MISSED'}")
    hostile = {
        "64 KiB: ### a + spaces + x (former regex's worst case)": "### a" + " " * (64 * KIB - 6) + "x",
        "64 KiB: one ### heading per line": "### a\n" * (64 * KIB // 6),
        "64 KiB: a NUL on every line (characters removed)": "abc\x00\n" * (64 * KIB // 5),
    }
    for label, body in hostile.items():
        print(f"{label}: median {median_ms(parse, body):.2f} ms")
    print(f"1 MiB body read without the limit (scanner alone): median {median_ms(parse, huge, 2 * MIB):.2f} ms")
    started = time.perf_counter()
    FORMER_SECTION.split("### a" + " " * (16 * KIB - 6) + "x")
    print(f"former section regex, 16 KiB of its worst case, once: {(time.perf_counter() - started) * 1000:.0f} ms")
    if STRICT and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
