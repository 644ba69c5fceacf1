"""Template filters for dates and times shown to people (built into every template by settings.TEMPLATES):
``|paris_date`` « 04/12/2026 », ``|paris_datetime`` « 04/12/2026 à 10:54 », ``|paris_datetime_seconds``
« 04/12/2026 à 10:54:53 ». The formats live in ``trustspace.paris_time``. Like Django's ``|date``, a value that
is no date gives "" (a template never fails on it)."""
from django import template

from trustspace import paris_time

register = template.Library()


def _quiet(function):
    def filter_function(value):
        try:
            return function(value)
        except (AttributeError, TypeError, ValueError):
            return ""

    return filter_function


register.filter("paris_date", _quiet(paris_time.paris_date), expects_localtime=False)
register.filter("paris_datetime", _quiet(paris_time.paris_datetime), expects_localtime=False)
register.filter("paris_datetime_seconds", _quiet(paris_time.paris_datetime_seconds), expects_localtime=False)
