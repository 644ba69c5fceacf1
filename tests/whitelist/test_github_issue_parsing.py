"""Parsing of GitHub issue forms against quadratic-regex bait: the work grows linearly with the text, counted in
bytecode instructions (never in seconds), and no regular expression is reachable from the parser."""
import re
import sys
import types

import pytest

from tests.whitelist.test_github_intake import form
from whitelist import github_issues

KIB = 1024
MIB = 1024 * KIB


# --- parsing ---------------------------------------------------------------------------------------------------


def test_parsing_details_kept_by_the_line_scanner():
    body = ("### Nom ##\n\nE-MEDIA\n#### Nom\npas une section\n###Nom\ncollé\n###\tDescription\t\n\n_No response_"
            "\n\n### Le DN (dncertificatoperateur)\nCN=a\\,b.example.fr , O = X")
    assert github_issues.sections(body) == [
        ("Nom", "E-MEDIA\n#### Nom\npas une section\n###Nom\ncollé"), ("Description", ""),
        ("Le DN (dncertificatoperateur)", "CN=a\\,b.example.fr , O = X")]
    fields = github_issues.form_fields(body)
    assert fields["description"] == "" and fields["dn_certificat_operateur"].startswith("CN=a\\,b")
    assert github_issues.form_fields("### NomDNCertificatOperateurs\nx") is None  # not a word of the label
    assert github_issues.common_name("CN=a\\,b.example.fr , O = X") == "a,b.example.fr"
    assert github_issues.common_name("O=X\\,CN=faux,cn = , CN= vrai.example.fr ") == "vrai.example.fr"
    assert github_issues.common_name("CN=fin\\\\,O=X") == "fin"
    assert github_issues._normal_dn(" CN = a ,O= B ") == "cn=a,o=b"


def _work(function, *args):
    """Python bytecode instructions executed by ``function(*args)``, whatever it calls: work counted, not time."""
    count = 0

    def tracer(frame, event, _arg):
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        function(*args)
    finally:
        sys.settrace(previous)
    return count


def _parse(body):
    return github_issues.parse_issue("[Add] x", body, max_bytes=64 * KIB)


# Bodies that made the former regexes backtrack (``### a`` + spaces + ``x``: 0.9 s at 16 K, ~20 s at 64 K), and
# bodies with as many lines, headings, label words and DN parts as the size allows.
SHAPES = {
    "spaces": lambda n: " " * n,
    "heading then spaces": lambda n: "### a" + " " * (n - 6) + "x",
    "heading of spaces and tabs": lambda n: "### " + " \t" * (n // 2 - 2) + "#",
    "DN of spaces": lambda n: "### DNCertificatOperateur\nCN=" + " " * (n - 30) + "x",
    "DN of backslashes": lambda n: "### DNCertificatOperateur\nCN=" + "\\" * (n - 30) + ",",
    "newlines": lambda n: "\n" * n,
    "headings": lambda n: "### a\n" * (n // 6),
    "label words": lambda n: "### " + "nom" * (n // 3 - 2),
    "DN commas": lambda n: "### DNCertificatOperateur\n" + " ,= " * (n // 4 - 7),
    "NUL every line": lambda n: "ab\x00\n" * (n // 4),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_parsing_work_grows_linearly(shape):
    make = SHAPES[shape]
    small, large = (16 * KIB, 64 * KIB) if shape in ("spaces", "heading then spaces") else (4 * KIB, 16 * KIB)
    assert len(make(large).encode()) <= 64 * KIB
    parsed = _parse(make(large))
    assert parsed.quarantine_reason == ""  # read and parsed, not set aside for its size
    work_small, work_large = _work(_parse, make(small)), _work(_parse, make(large))
    # Four times the text: at most about four times the work (a quadratic parser would do sixteen times).
    assert work_large <= 4.5 * work_small + 500, (shape, work_small, work_large)
    assert work_large <= 60 * large, (shape, work_large)


def test_64_kib_of_spaces_and_a_1_mib_body_cost_a_bounded_work():
    assert _parse(" " * 64 * KIB).fields is None
    assert _work(_parse, " " * 64 * KIB) < 2000  # a few str calls: nothing per character in Python
    huge = github_issues.parse_issue("[Add] x", form() + "x" * MIB)
    assert huge.quarantine_reason and huge.fields is None and len(huge.body) == github_issues.STORED_BODY_CHARS
    assert _work(github_issues.parse_issue, "[Add] x", form() + "x" * MIB) < 5000  # never scanned in Python


def test_the_parser_uses_no_regular_expression():
    """Static guard: nothing reachable from ``parse_issue`` names the ``re`` module or a compiled pattern (the
    work count above cannot see inside the regex engine, which is where the quadratic time was)."""
    seen, todo, reached = set(), [github_issues.parse_issue], []
    while todo:
        function = todo.pop()
        if function in seen:
            continue
        seen.add(function)
        codes = [function.__code__]
        while codes:
            code = codes.pop()
            codes.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
            for name in code.co_names:
                value = function.__globals__.get(name)
                reached.append((function.__name__, name, value))
                if isinstance(value, types.FunctionType):
                    todo.append(value)
    assert {"sections", "form_fields", "common_name", "clean_text", "invalid_reason"} <= {f.__name__ for f in seen}
    assert [(f, n) for f, n, value in reached if value is re or isinstance(value, re.Pattern)] == []
