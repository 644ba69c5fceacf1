"""The one way a date or a time is written for a person (issue 16, item 4): Europe/Paris, « 04/12/2026 à 10:54 ».

Pages use the template filters of the same names (``trustspace.templatetags.paris_time``, built into every
template: ``{{ incident.opened_at|paris_datetime }}``); e-mails, flashes, PDFs and messages built in Python call
these functions. Django's own rendering of a date (a bare ``{{ value }}``, the admin) follows the same formats
through ``trustspace.formats`` (FORMAT_MODULE_PATH). UTC stays inside machine formats only (XML, API JSON, ISO
8601 with its ``Z``). ``certificates.validation.common.fmt_date`` writes the seconds form without Django.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import dateformat

PARIS = ZoneInfo("Europe/Paris")
# Django date-format syntax (the formats module and the filters read these).
DATE_FORMAT = "d/m/Y"
DATETIME_FORMAT = "d/m/Y à H:i"
DATETIME_SECONDS_FORMAT = "d/m/Y à H:i:s"  # where the second matters: a signed file's date, a probe, a retry


def in_paris(value: dt.datetime) -> dt.datetime:
    """``value`` on the Paris wall clock; a naive datetime is taken as already written in Paris time."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=PARIS)
    return value.astimezone(PARIS)


def paris_date(value: dt.date | dt.datetime | None) -> str:
    """« 04/12/2026 »: the Paris calendar day of an instant, or a date as it is; "" for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = in_paris(value).date()
    return dateformat.format(value, DATE_FORMAT)


def paris_datetime(value: dt.datetime | None, *, seconds: bool = False) -> str:
    """« 04/12/2026 à 10:54 » (« 04/12/2026 à 10:54:53 » with ``seconds``) in Paris time; "" for None."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):  # a date alone has no time to show
        return paris_date(value)
    return dateformat.format(in_paris(value), DATETIME_SECONDS_FORMAT if seconds else DATETIME_FORMAT)


def paris_datetime_seconds(value: dt.datetime | None) -> str:
    return paris_datetime(value, seconds=True)
