"""SVG drawn by the weather: the embeddable status badge and the 90-day history bars.

Built as strings (not templates): a page of 50 DRIMboxes draws 4,500 bars, and every text that comes
from data is XML-escaped here. Colours follow the DSFR palette; each shape carries a ``<title>`` so that
screen readers and tooltips say what the colour means.
"""
from xml.sax.saxutils import escape, quoteattr

from .history import STATUS_LABELS
from .models import DayStrip, WeatherStatus

COLOURS = {
    WeatherStatus.OPERATIONAL: "#18753c",
    WeatherStatus.DEGRADED: "#b34000",
    WeatherStatus.DOWN: "#ce0500",
    WeatherStatus.MAINTENANCE: "#0063cb",
    WeatherStatus.NO_DATA: "#929292",
}
LEGEND = [(status, COLOURS[status], STATUS_LABELS[status]) for status in (
    WeatherStatus.OPERATIONAL, WeatherStatus.DEGRADED, WeatherStatus.DOWN, WeatherStatus.MAINTENANCE,
    WeatherStatus.NO_DATA)]


def colour_of(status):
    return COLOURS.get(status, COLOURS[WeatherStatus.NO_DATA])


def _text_width(text):
    # Verdana 11px averages about 7 px a character: enough for a badge, no font metrics needed.
    return 10 + 7 * len(text)


def badge_svg(label, status):
    """A shields-style badge: grey ``label`` on the left, the status in its colour on the right."""
    value = STATUS_LABELS.get(status, str(status))
    left, right = _text_width(label), _text_width(value)
    width = left + right
    title = escape(f"{label} : {value}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label={quoteattr(title)}>'
        f"<title>{title}</title>"
        f'<rect width="{left}" height="20" fill="#3a3a3a"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour_of(status)}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:.1f}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{escape(value)}</text>'
        "</g></svg>"
    )


def history_svg(cells, *, title, bar_width=4, gap=1, height=24, element_id="", drawn_days=0, drawn=""):
    """One bar per day, oldest on the left; ``title`` names the DRIMbox for assistive technologies. ``drawn``:
    the bars of the ``drawn_days`` oldest days, already drawn (``DayStrip``); ``cells`` are then the days after."""
    days = drawn_days + len(cells)
    width = days * (bar_width + gap) - gap if days else 0
    ident = f' id="{escape(element_id)}"' if element_id else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg"{ident} class="weather-bars" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)}>'
            f"<title>{escape(title)}</title>{drawn}"
            f"{bar_rects(cells, start=drawn_days, bar_width=bar_width, gap=gap, height=height)}</svg>")


def bar_rects(cells, *, start=0, bar_width=4, gap=1, height=24):
    """The ``<rect>`` of each day, the first at position ``start``."""
    return "".join(f'<rect x="{index * (bar_width + gap)}" width="{bar_width}" height="{height}" rx="1" '
                   f'fill="{colour_of(cell.status)}"><title>{escape(cell.summary)}</title></rect>'
                   for index, cell in enumerate(cells, start=start))


# The closed days' bars stored per DRIMbox (``DayStrip``) as the public list draws them. A change of the drawing
# above changes STRIP_VERSION, so that strips drawn the old way are no longer used (and are drawn again by
# ``weather.services.summaries.record_day_summaries``).
STRIP_BAR_WIDTH = 4
STRIP_VERSION = 1


def strip_bars(cells):
    return bar_rects(cells, bar_width=STRIP_BAR_WIDTH)


def stored_strips(drimbox_ids, first_day, last_day):
    """{drimbox_id: bars} of the current strips (window ``first_day``..``last_day``) of these DRIMboxes."""
    return dict(DayStrip.objects.filter(drimbox_id__in=list(drimbox_ids), first_day=first_day, last_day=last_day,
                                        version=STRIP_VERSION).values_list("drimbox_id", "bars"))
