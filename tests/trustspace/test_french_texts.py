"""No English for people (issue 16, item 7), at the source: the texts of every template (pages, PDFs, e-mail
bodies) and the messages written in Python for a person (flashes, form errors, the domain errors the pages and the
API show) are French. An outside party's English (a CA's, GitHub's, an SMTP server's) is kept apart as the
technical detail (``trustspace.technical_detail``), never written here. The crawl (tests/test_crawl.py) checks
the pages as rendered."""
import ast
import re
from pathlib import Path

from tests.test_crawl import ENGLISH

ROOT = Path(__file__).resolve().parents[2]
APPS = ("trustspace", "operators", "certificates", "whitelist", "weather", "dashboards", "demo")

_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.S)
_TAG = re.compile(r"{%.*?%}|{{.*?}}", re.S)
_HIDDEN = re.compile(r"<(script|style|code|pre)\b.*?</\1>", re.S | re.I)
_MARKUP = re.compile(r"<[^>]*>", re.S)


def template_english(text):
    """English words in what a template writes for people (its comments, tags, code and markup left out)."""
    text = _MARKUP.sub(" ", _HIDDEN.sub(" ", _TAG.sub(" ", _COMMENT.sub(" ", text))))
    return [" ".join(text[max(0, m.start() - 40):m.end() + 40].split()) for m in ENGLISH.finditer(text)]


def test_templates_and_email_bodies_read_in_french():
    templates = [path for path in sorted((ROOT / "templates").rglob("*")) if path.suffix in (".html", ".txt")]
    assert len([path for path in templates if "/email/" in str(path)]) > 20  # the e-mail bodies are in the scan
    found = [f"{path.relative_to(ROOT)}: {text}" for path in templates for text in template_english(path.read_text())]
    assert not found, "English in templates:\n" + "\n".join(found)


# Exceptions whose str() is the technical account by design, people reading their ``french`` (trustspace.dnszone).
TECHNICAL_ONLY = {"DnsError", "DnsUnavailable", "DnsRejected"}
# Python's own exceptions: for logs and programmers, not for people.
INTERNAL = {"ValueError", "TypeError", "RuntimeError", "ImproperlyConfigured", "SuspiciousOperation", "KeyError",
            "LookupError", "AttributeError", "OSError", "NotImplementedError", "PermissionError", "FileNotFoundError"}
PEOPLE_EXCEPTION = re.compile(r"^[A-Z]\w*(Error|Conflict|Data|Found|Denied|Rejected|Failed|Failure|Invalid)$")


def _text(node):
    """The literal words of a string expression (f-string values and concatenations read as « X »)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else " X " for part in node.values)
    if isinstance(node, ast.BinOp):
        return _text(node.left) + _text(node.right)
    return ""


def _texts_for_people(tree):
    """(line, text) of the messages a module writes for a person: ``messages.<level>(…)``, ``add_error``,
    ``ValidationError`` and the portal's own errors (``InvalidData``, ``Conflict``, ``SignerError``…)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        flash = (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name)
                 and function.value.id == "messages")
        error = (isinstance(function, ast.Name) and PEOPLE_EXCEPTION.match(name) and name not in INTERNAL
                 and name not in TECHNICAL_ONLY)
        if flash or error or name in ("add_error", "ValidationError"):
            arguments = node.args[1:] if name == "add_error" else node.args  # add_error's first: the field's name
            for argument in [*arguments, *(k.value for k in node.keywords if k.arg in ("message", "detail"))]:
                if text := _text(argument):
                    yield node.lineno, text


def test_python_messages_for_people_read_in_french():
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if "/migrations/" not in relative:
                tree = ast.parse(path.read_text())
                found += [f"{relative}:{line}: {text!r}" for line, text in _texts_for_people(tree)
                          if ENGLISH.search(text)]
    assert not found, "English in messages for people:\n" + "\n".join(found)


def test_the_source_scans_find_what_they_should():
    assert template_english("{% comment %}The page{% endcomment %}<p>Révocation {{ the_value }}</p>"
                            "<code>not found</code><script>if (a) { throw 'unable'; }</script>") == []
    assert template_english("Bonjour,\n\nYour certificate expires.") == ["Bonjour, Your certificate expires."]
    texts = [text for _line, text in _texts_for_people(ast.parse(
        'messages.success(request, "Saved with success.")\n'
        'raise InvalidData(f"Le champ {name} est requis.")\n'
        'form.add_error("email", "Enter a valid e-mail address.")\n'
        'raise ValueError("internal: the value is wrong")\n'
        'raise DnsError(f"{action} on {where} failed")\n'
        'logger.warning("outbox: the sweep will")'))]
    assert texts == ["Saved with success.", "Le champ  X  est requis.", "Enter a valid e-mail address."]
    assert [text for text in texts if ENGLISH.search(text)] == ["Saved with success.",
                                                                "Enter a valid e-mail address."]
