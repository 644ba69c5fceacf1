"""One time zone for people (issue 16, item 4): times shown to a person are Paris time, whatever the instant's zone,
in one format (« 04/12/2026 à 10:54 », trustspace.paris_time) on pages, in e-mails, PDFs and flashes; UTC only
inside machine formats. The scans below keep new templates and messages on the shared format."""
import ast
import datetime as dt
import re
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from certificates.validation.common import fmt_date
from operators.models import Invitation
from tests.operators.test_double_submit import messages_of, token_in
from trustspace.paris_time import paris_date, paris_datetime, paris_datetime_seconds

ROOT = Path(__file__).resolve().parents[2]
APPS = ("trustspace", "operators", "certificates", "whitelist", "weather", "demo")
SUMMER = dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)  # 12:00 in Paris (UTC+2)
WINTER_NIGHT = dt.datetime(2026, 12, 1, 23, 30, 5, tzinfo=dt.UTC)  # 00:30 the next day in Paris (UTC+1)


def test_the_shared_format_is_paris_time_summer_and_winter():
    assert paris_datetime(SUMMER) == "01/07/2026 à 12:00"
    assert paris_datetime(WINTER_NIGHT) == "02/12/2026 à 00:30"
    assert paris_datetime_seconds(WINTER_NIGHT) == "02/12/2026 à 00:30:05"
    assert paris_date(WINTER_NIGHT) == "02/12/2026"  # the Paris day, not the UTC one
    assert paris_date(dt.date(2026, 12, 1)) == "01/12/2026"
    assert paris_datetime(None) == paris_date(None) == ""


def test_templates_and_django_write_the_same_format():
    rendered = Template(
        "{{ t|paris_datetime }}|{{ t|paris_datetime_seconds }}|{{ t|paris_date }}|{{ t }}|{{ t|date }}|"
        "{{ t|date:'DATETIME_FORMAT' }}|{{ none|paris_datetime|default:'—' }}").render(
        Context({"t": WINTER_NIGHT, "none": None}))
    assert rendered.split("|") == ["02/12/2026 à 00:30", "02/12/2026 à 00:30:05", "02/12/2026",
                                   "02/12/2026 à 00:30", "02/12/2026", "02/12/2026 à 00:30", "—"]


def test_certificate_messages_give_paris_time_in_the_shared_format():
    # certificates.validation may not import Django: its own copy of the seconds form, held to the shared one.
    assert fmt_date(SUMMER) == "01/07/2026 à 12:00:00 (heure de Paris)"
    for instant in (SUMMER, WINTER_NIGHT):
        assert fmt_date(instant) == f"{paris_datetime_seconds(instant)} (heure de Paris)"


@pytest.mark.django_db
def test_the_invitation_flash_gives_the_expiry_in_paris_time_as_the_table_does(client, world):
    client.force_login(world.legal)
    page = client.get(reverse("person_invite"))
    response = client.post(reverse("person_invite"), {
        "email": "paris@example.fr", "role": "administrateur_technique", "submission_token": token_in(page)})
    assert response.status_code == 302
    expires = timezone.localtime(Invitation.objects.get(email="paris@example.fr").expires_at)
    assert expires.utcoffset() != dt.timedelta(0)  # Paris is never at UTC: the test tells the two apart
    [flash] = [m for m in messages_of(response) if "invitation a été envoyée" in m]
    assert f"{expires:%d/%m/%Y à %H:%M}" in flash
    table = client.get(reverse("people")).content.decode()
    assert paris_datetime(expires) in table


@pytest.mark.django_db
def test_a_sealed_audit_row_holds_no_written_time_the_history_writes_it_in_paris_time(client, world):
    from tests.support import weather as wx
    from trustspace.models import AuditEntry
    from weather import services
    from weather.models import WeatherStatus

    box, = wx.make_drimboxes(world.operator, 1)
    opened = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # 09:00 in Paris
    services.set_status(box, WeatherStatus.OPERATIONAL, effective_at=opened - dt.timedelta(hours=1), at=opened)
    services.set_status(box, WeatherStatus.DOWN, effective_at=opened, at=opened)
    entry = AuditEntry.objects.get(action="weather.incident_opened")
    assert not re.search(r"\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}", entry.object_repr), entry.object_repr
    client.force_login(world.legal)
    page = client.get(reverse("operator_history")).content.decode()
    assert "02/03/2026 à 09:00" in page and "02/03/2026 à 08:00" not in page


# --- scans: no other format for people ------------------------------------------------------------------

# Machine formats a template may still write: ISO 8601 (an <input type="date"> value, a file's UTC date).
MACHINE_TEMPLATE_FORMATS = {"Y-m-d", r"Y-m-d\TH:i:s\Z"}
TEMPLATE_DATE_FILTER = re.compile(r"""\|(date|time):(["'])(.*?)\2""")


def test_templates_write_dates_only_through_the_shared_filters():
    found = []
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.is_file():
            for match in TEMPLATE_DATE_FILTER.finditer(path.read_text()):
                if match.group(3) not in MACHINE_TEMPLATE_FORMATS:
                    found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert not found, "use |paris_date, |paris_datetime or |paris_datetime_seconds:\n" + "\n".join(found)


def _is_human_time_format(text):
    """A strftime format a person would read: day/month order, or a clock time outside ISO 8601 (« T%H:%M »)."""
    return "%d/%m" in text or ("%H:%M" in text and "T%H:%M" not in text)


def _format_strings(tree):
    """(line, text) of every strftime-like format in a module, leaving out lists of accepted *input* formats
    (``*_FORMATS = [...]``, ``input_formats=[...]``): parsing what people type is not showing them a time."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Tuple):
            names = [t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else ""
                     for t in node.targets]
            if any(name.endswith("FORMATS") or name == "input_formats" for name in names):
                skipped.update(id(element) for element in node.value.elts)
        if (isinstance(node, ast.keyword) and node.arg == "input_formats"
                and isinstance(node.value, ast.List | ast.Tuple)):
            skipped.update(id(element) for element in node.value.elts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            yield node.lineno, node.value


# The Django-free copy of the seconds form (held to the shared format above).
ALLOWED = {("certificates/validation/common.py", "%d/%m/%Y à %H:%M:%S (heure de Paris)")}


def test_python_messages_format_times_only_through_the_shared_helpers():
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if "/migrations/" in relative or relative == "trustspace/paris_time.py":
                continue
            for line, text in _format_strings(ast.parse(path.read_text())):
                if _is_human_time_format(text) and (relative, text) not in ALLOWED:
                    found.append(f"{relative}:{line}: {text!r}")
    assert not found, "use trustspace.paris_time (paris_date, paris_datetime):\n" + "\n".join(found)


def test_the_scan_sees_an_f_string_format_and_skips_input_formats():
    flagged = [text for _line, text in _format_strings(ast.parse(
        'x = f"le {when:%d/%m/%Y %H:%M}"\nDATETIME_FORMATS = ["%d/%m/%Y %H:%M"]\niso = f"{when:%Y-%m-%dT%H:%M:%SZ}"\n'
        'field = forms.DateField(input_formats=["%d/%m/%Y"])'))
        if _is_human_time_format(text)]
    assert flagged == ["%d/%m/%Y %H:%M"]


# A value that is an instant or a day, by its name (``opened_at``, ``deadline``, ``not_after``, ``expires_on``…).
TIME_NAME = re.compile(r"(_at|_on|_date|_until|^date|deadline|not_after|not_before|expires|this_update|next_update)$")
# Already-written text, not an instant: the history row's time (trustspace.history, written by paris_datetime).
WRITTEN_TIMES = {"row.created_at"}
TEMPLATE_VALUE = re.compile(r"{{\s*([\w.]+)\s*(\|[^}]*)?}}")


def _bare_template_times(text):
    """``{{ x.opened_at }}`` shown without a Paris filter (nor a machine one: ``|utc|date:…``, ``|timesince``)."""
    for match in TEMPLATE_VALUE.finditer(text):
        name, filters = match.group(1), match.group(2) or ""
        if TIME_NAME.search(name.rsplit(".", 1)[-1]) and name not in WRITTEN_TIMES and not re.search(
                r"\|(paris_date|paris_datetime|paris_datetime_seconds|timesince|timeuntil|date|utc)\b", filters):
            yield match.group(0)


def test_templates_and_emails_show_instants_only_through_the_paris_filters():
    """Pages, PDFs and e-mails (their text bodies too): a bare ``{{ instant }}`` follows whatever time zone is
    active where it renders (a worker, a request); the filters always write Paris time."""
    found = [f"{path.relative_to(ROOT)}: {value}" for path in sorted((ROOT / "templates").rglob("*"))
             if path.is_file() for value in _bare_template_times(path.read_text())]
    assert len(list((ROOT / "templates").rglob("email/*.txt"))) > 20  # the scan does see the e-mail bodies
    assert not found, "use |paris_date, |paris_datetime or |paris_datetime_seconds:\n" + "\n".join(found)


def _bare_python_times(tree):
    """f-string parts writing an instant's attribute as it is (``f"le {incident.opened_at}"``: ISO, UTC)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if (isinstance(part, ast.FormattedValue) and part.format_spec is None
                        and isinstance(part.value, ast.Attribute) and TIME_NAME.search(part.value.attr)):
                    yield node.lineno, ast.unparse(part.value)


def test_python_texts_write_instants_only_through_the_shared_helpers():
    """E-mail bodies, flashes and messages built in Python."""
    found = []
    for app in (*APPS, "dashboards"):
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if "/migrations/" not in relative:
                tree = ast.parse(path.read_text())
                found += [f"{relative}:{line}: {value}" for line, value in _bare_python_times(tree)]
    assert not found, "use trustspace.paris_time (paris_date, paris_datetime):\n" + "\n".join(found)


def test_the_instant_scans_see_what_they_should():
    assert list(_bare_template_times(
        "{{ incident.opened_at }} {{ i.opened_at|paris_datetime }} {{ r.deadline|default:'—' }} "
        "{{ v.generated_at|utc|date:'c' }} {{ c.since|timesince }} {{ row.created_at }} {{ order.status }}")) == [
        "{{ incident.opened_at }}", "{{ r.deadline|default:'—' }}"]
    assert [value for _line, value in _bare_python_times(ast.parse(
        'a = f"le {incident.opened_at}"\nb = f"le {paris_datetime(incident.opened_at)}"\n'
        'c = f"{x.created_at:%Y}"\nd = f"{order.reference}"'))] == ["incident.opened_at"]
