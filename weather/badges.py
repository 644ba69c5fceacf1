"""SVG drawn by the weather: the embeddable status badge and the 90-day history bars.

Built as strings (not templates): a page of 50 DRIMboxes draws 4,500 bars, and every text that comes
from data is XML-escaped here. Colours follow the DSFR palette; each shape carries a ``<title>`` so that
screen readers and tooltips say what the colour means.
"""
from xml.sax.saxutils import escape, quoteattr

from .history import STATUS_LABELS
from .models import WeatherStatus

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


def history_svg(cells, *, title, bar_width=4, gap=1, height=24, element_id=""):
    """One bar per day, oldest on the left; ``title`` names the DRIMbox for assistive technologies."""
    width = len(cells) * (bar_width + gap) - gap if cells else 0
    ident = f' id="{escape(element_id)}"' if element_id else ""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg"{ident} class="weather-bars" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)}>'
             f"<title>{escape(title)}</title>"]
    for index, cell in enumerate(cells):
        parts.append(f'<rect x="{index * (bar_width + gap)}" width="{bar_width}" height="{height}" rx="1" '
                     f'fill="{colour_of(cell.status)}"><title>{escape(cell.summary)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
