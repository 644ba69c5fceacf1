"""Charts drawn on the server as SVG text, for people and for screen readers (no JavaScript, no library).

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>`` (both referenced by
``aria-labelledby``); the page puts a table with the same figures next to it, which is the text alternative
(``templates/includes/chart.html``). Every text that comes from data is XML-escaped here. Colours are presentation
attributes, which the Content-Security-Policy allows (style attributes are refused), from the DSFR palette; texts
and axes use ``currentColor``, so that they follow the page's light or dark theme.

Three shapes: ``bar_chart`` (one bar per label, stacked when a bar has several segments, with optional threshold
lines), ``line_chart`` (series over labels, a gap where a value is missing) and ``timeline_chart`` (one span of
dates per row, with a « today » marker). Django-free and typed (checked by mypy): the pages map their rows to
``Bar``/``Segment``, ``Series`` and ``Span``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape, quoteattr

SVG_NS = "http://www.w3.org/2000/svg"
TONES = {
    "primary": "#000091",  # bleu France
    "info": "#0063cb",
    "success": "#18753c",
    "warning": "#b34000",
    "error": "#ce0500",
    "neutral": "#929292",
}
MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
FONT = 'font-family="Marianne, arial, sans-serif"'
MAX_X_LABELS = 12  # beyond, every n-th label only (the table gives them all)


@dataclass(frozen=True)
class Segment:
    value: float
    tone: str = "primary"
    name: str = ""  # the segment's meaning, in the tooltip (« PERF 1 »)


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (« janv. 2027 »)
    segments: tuple[Segment, ...] = ()  # stacked from the axis up; empty: no value (drawn as « n.d. »)
    text: str = ""  # the value as a person reads it, in the tooltip (« 12 h 30 »)

    @classmethod
    def single(cls, label: str, value: float | None, *, text: str = "", tone: str = "primary") -> Bar:
        return cls(label, () if value is None else (Segment(value, tone),), text)

    @property
    def total(self) -> float | None:
        return sum(s.value for s in self.segments) if self.segments else None


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str  # « 10 h »
    tone: str = "warning"


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]
    tone: str = "primary"


@dataclass(frozen=True)
class Span:
    label: str  # at the left of its row
    start: date
    end: date
    text: str = ""  # the tooltip (« valide jusqu'au 12/03/2027 »)
    tone: str = "primary"


@dataclass
class _Frame:
    """The drawing area inside the margins, and the value scale of its vertical axis."""
    width: int
    height: int
    left: int = 56
    right: int = 16
    top: int = 24
    bottom: int = 44
    ticks: list[float] = field(default_factory=list)

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def base(self) -> float:
        return self.top + self.plot_height

    def y(self, value: float) -> float:
        top = self.ticks[-1] if self.ticks else 1.0
        return self.base - (value / top) * self.plot_height if top else self.base


def format_number(value: float, decimals: int = 1) -> str:
    """French figures: « 0,5 », « 12 » (no useless zero), « 1 250 »."""
    text = f"{value:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")
    if "," in text:
        text = text.rstrip("0").rstrip(",")
    return text


def nice_ticks(maximum: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """0 then ``count`` round steps (1, 2, 2.5 or 5 times a power of ten) reaching at least ``maximum``;
    ``whole``: steps of whole numbers only (counts of things)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:
        step = max(1, math.ceil(step))
    steps = math.ceil(maximum / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _n(value: float) -> str:
    """A coordinate: one decimal at most."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(chart_id: str, title: str, description: str, width: int, height: int, kind: str) -> list[str]:
    ident = escape(chart_id)
    return [
        f'<svg xmlns="{SVG_NS}" id={quoteattr(chart_id)} class="portal-chart portal-chart--{kind}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}-title {ident}-desc" {FONT} font-size="12" fill="currentColor">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def _vertical_axis(frame: _Frame, unit: str) -> list[str]:
    parts = []
    for tick in frame.ticks:
        y = _n(frame.y(tick))
        parts.append(f'<line class="portal-chart__grid" x1="{frame.left}" x2="{frame.width - frame.right}" '
                     f'y1="{y}" y2="{y}" stroke="currentColor" stroke-opacity="0.2"/>')
        parts.append(f'<text x="{frame.left - 6}" y="{y}" dy="4" text-anchor="end">'
                     f'{escape(format_number(tick, 2))}</text>')
    if unit:
        parts.append(f'<text x="4" y="{frame.top - 10}">{escape(unit)}</text>')
    parts.append(f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{_n(frame.base)}" '
                 f'y2="{_n(frame.base)}" stroke="currentColor"/>')
    return parts


def _x_labels(labels: Sequence[str], centre_of: Callable[[int], float], frame: _Frame, slot: float) -> list[str]:
    """The labels under the axis, every n-th one when they would overlap (about 6.5 units a character)."""
    widest = max((len(label) for label in labels), default=0) * 6.5 + 8
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS), math.ceil(widest / max(slot, 1)))
    parts = []
    for index, label in enumerate(labels):
        if index % every == 0:
            parts.append(f'<text class="portal-chart__label" x="{_n(centre_of(index))}" y="{_n(frame.base + 18)}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    return parts


def _tone(tone: str) -> str:
    return TONES.get(tone, TONES["primary"])


def bar_chart(bars: Sequence[Bar], *, title: str, description: str, chart_id: str, unit: str = "",
              thresholds: Sequence[Threshold] = (), max_value: float | None = None, whole: bool = False,
              width: int = 720, height: int = 260) -> str:
    """One bar per label, its segments stacked; a dashed line per threshold; « n.d. » where a bar has no value.

    The vertical scale runs from 0 to a round value above the tallest bar, the thresholds and ``max_value`` (in
    whole steps with ``whole``: counts of things)."""
    tallest = max([b.total or 0.0 for b in bars] + [t.value for t in thresholds] + [max_value or 0.0], default=0.0)
    frame = _Frame(width, height)
    frame.ticks = nice_ticks(tallest, whole=whole)
    slot = frame.plot_width / max(len(bars), 1)
    bar_width = max(2.0, min(48.0, slot * 0.7))

    def centre(index: int) -> float:
        return frame.left + slot * index + slot / 2

    parts = _open(chart_id, title, description, width, height, "bars") + _vertical_axis(frame, unit)
    for index, bar in enumerate(bars):
        x = centre(index) - bar_width / 2
        if not bar.segments:
            parts.append(f'<text class="portal-chart__missing" x="{_n(centre(index))}" y="{_n(frame.base - 4)}" '
                         'text-anchor="middle" font-size="10">n.d.</text>')
            continue
        if not bar.total:
            # Zero is a value, not a gap: a thin mark on the axis says so.
            tip = f"{bar.label} : {bar.text or '0'}"
            parts.append(f'<rect class="portal-chart__bar portal-chart__bar--zero" x="{_n(x)}" '
                         f'y="{_n(frame.base - 2)}" width="{_n(bar_width)}" height="2" '
                         f'fill="{_tone(bar.segments[0].tone)}" data-value="0">'
                         f"<title>{escape(tip)}</title></rect>")
            continue
        floor = 0.0
        for segment in bar.segments:
            if segment.value <= 0:
                continue
            y_top, y_bottom = frame.y(floor + segment.value), frame.y(floor)
            name = f" — {segment.name}" if segment.name else ""
            tip = f"{bar.label}{name} : {bar.text or format_number(segment.value)}" if len(bar.segments) == 1 \
                else f"{bar.label}{name} : {format_number(segment.value)}"
            parts.append(
                f'<rect class="portal-chart__bar portal-chart__bar--{escape(segment.tone)}" x="{_n(x)}" '
                f'y="{_n(y_top)}" width="{_n(bar_width)}" height="{_n(y_bottom - y_top)}" '
                f'fill="{_tone(segment.tone)}" data-value="{segment.value:g}"><title>{escape(tip)}</title></rect>')
            floor += segment.value
    for threshold in thresholds:
        y = _n(frame.y(threshold.value))
        parts.append(f'<line class="portal-chart__threshold" x1="{frame.left}" x2="{frame.width - frame.right}" '
                     f'y1="{y}" y2="{y}" stroke="{_tone(threshold.tone)}" stroke-width="1.5" stroke-dasharray="6 4" '
                     f'data-value="{threshold.value:g}"/>')
        parts.append(f'<text x="{frame.width - frame.right}" y="{y}" dy="-4" text-anchor="end" '
                     f'fill="{_tone(threshold.tone)}">{escape(threshold.label)}</text>')
    parts += _x_labels([b.label for b in bars], centre, frame, slot)
    parts.append("</svg>")
    return "".join(parts)


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, description: str, chart_id: str,
               unit: str = "", width: int = 720, height: int = 260) -> str:
    """Each series as a line over ``labels`` (its values in the same order), broken where a value is missing,
    with a point per value (its tooltip gives the figure); a legend names the series."""
    values = [v for s in series for v in s.values if v is not None]
    frame = _Frame(width, height)
    frame.ticks = nice_ticks(max(values, default=0.0))
    step = frame.plot_width / max(len(labels) - 1, 1)

    def centre(index: int) -> float:
        return frame.left + step * index if len(labels) > 1 else frame.left + frame.plot_width / 2

    parts = _open(chart_id, title, description, width, height, "lines") + _vertical_axis(frame, unit)
    for number, one in enumerate(series):
        colour = _tone(one.tone)
        runs: list[list[tuple[float, float]]] = [[]]
        points = []
        for index, value in enumerate(one.values[:len(labels)]):
            if value is None:
                runs.append([])
                continue
            point = (centre(index), frame.y(value))
            runs[-1].append(point)
            tip = f"{one.name}, {labels[index]} : {format_number(value)}{' ' + unit if unit else ''}"
            points.append(f'<circle class="portal-chart__point" cx="{_n(point[0])}" cy="{_n(point[1])}" r="2.5" '
                          f'fill="{colour}" data-value="{value:g}"><title>{escape(tip)}</title></circle>')
        for run in runs:
            if len(run) > 1:
                coordinates = " ".join(f"{_n(x)},{_n(y)}" for x, y in run)
                dash = ' stroke-dasharray="5 3"' if number % 2 else ""
                parts.append(f'<polyline class="portal-chart__line" points="{coordinates}" fill="none" '
                             f'stroke="{colour}" stroke-width="2"{dash}/>')
        parts += points
        legend_x = frame.left + 8 + number * 160
        parts.append(f'<rect x="{legend_x}" y="4" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{legend_x + 16}" y="14">{escape(one.name)}</text>')
    parts += _x_labels(labels, centre, frame, step)
    parts.append("</svg>")
    return "".join(parts)


def _month_starts(start: date, end: date) -> list[date]:
    months: list[date] = []
    year, month = start.year, start.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        first = date(year, month, 1)
        if first >= end:
            return months
        months.append(first)


def timeline_chart(spans: Sequence[Span], *, start: date, end: date, today: date | None, title: str,
                   description: str, chart_id: str, width: int = 720, label_width: int = 170,
                   row_height: int = 24) -> str:
    """One row per span between ``start`` and ``end`` (clipped to them), a tick per month (the year on
    January's), and a « today » line; a span wholly outside the window has its label and no bar."""
    frame = _Frame(width, 0, left=label_width, top=8, bottom=36)
    frame.height = frame.top + row_height * max(len(spans), 1) + frame.bottom
    days = max((end - start).days, 1)

    def x(day: date) -> float:
        offset = min(max((day - start).days, 0), days)
        return frame.left + frame.plot_width * offset / days

    parts = _open(chart_id, title, description, width, frame.height, "timeline")
    months = _month_starts(start, end)
    # A label with its year is about 70 units wide: one every so many months that they never touch.
    every = max(1, math.ceil(len(months) / MAX_X_LABELS), math.ceil(76 / max(frame.plot_width * 28 / days, 1)))
    year_shown = None
    for number, first in enumerate(months):
        tick = _n(x(first))
        parts.append(f'<line class="portal-chart__grid" x1="{tick}" x2="{tick}" y1="{frame.top}" '
                     f'y2="{_n(frame.base)}" stroke="currentColor" stroke-opacity="0.15"/>')
        if number % every == 0:
            # The year on the first label and on the first one of each new year.
            label = MONTHS_SHORT[first.month - 1] + (f" {first.year}" if first.year != year_shown else "")
            year_shown = first.year
            parts.append(f'<text class="portal-chart__label" x="{tick}" y="{_n(frame.base + 16)}" '
                         f'text-anchor="middle" font-size="11">{escape(label)}</text>')
    for index, span in enumerate(spans):
        y = frame.top + index * row_height
        parts.append(f'<text x="{label_width - 8}" y="{y + row_height / 2 + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{escape(span.label)}</text>')
        left, right = x(span.start), x(span.end)
        if span.end < start or span.start > end:
            continue  # outside the window: the table still lists it
        tip = span.text or span.label
        parts.append(
            f'<rect class="portal-chart__span portal-chart__span--{escape(span.tone)}" x="{_n(left)}" '
            f'y="{y + 5}" width="{_n(max(right - left, 2))}" height="{row_height - 10}" rx="3" '
            f'fill="{_tone(span.tone)}" data-start="{span.start.isoformat()}" data-end="{span.end.isoformat()}">'
            f"<title>{escape(tip)}</title></rect>")
    parts.append(f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{_n(frame.base)}" '
                 f'y2="{_n(frame.base)}" stroke="currentColor"/>')
    if today is not None and start <= today <= end:
        mark = _n(x(today))
        parts.append(f'<line class="portal-chart__today" x1="{mark}" x2="{mark}" y1="{frame.top - 4}" '
                     f'y2="{_n(frame.base + 4)}" stroke="{TONES["error"]}" stroke-width="2" '
                     f'data-date="{today.isoformat()}"/>')
        parts.append(f'<text x="{mark}" y="{_n(frame.base + 30)}" text-anchor="middle" font-size="11" '
                     f'fill="{TONES["error"]}">Aujourd\u2019hui</text>')
    parts.append("</svg>")
    return "".join(parts)
