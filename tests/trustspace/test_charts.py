"""The server-side SVG charts (trustspace.charts): valid XML, named and described for screen readers, data texts
escaped, and values mapped to the geometry they should have."""
import xml.etree.ElementTree as ET
from datetime import date

from trustspace.charts import (
    Bar,
    Segment,
    Series,
    Span,
    Threshold,
    bar_chart,
    format_number,
    line_chart,
    nice_ticks,
    timeline_chart,
)

NS = {"svg": "http://www.w3.org/2000/svg"}


def _parse(svg):
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def _named(root, chart_id, title, description):
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
    assert root.find("svg:title", NS).get("id") == f"{chart_id}-title"
    assert root.find("svg:title", NS).text == title
    assert root.find("svg:desc", NS).get("id") == f"{chart_id}-desc"
    assert root.find("svg:desc", NS).text == description


def _bars(root):
    return root.findall(".//svg:rect[@class]", NS)


def test_bar_chart_is_named_and_maps_values_to_heights():
    svg = bar_chart([Bar.single("janv.", 10, text="10 h"), Bar.single("févr.", 20, text="20 h"),
                     Bar.single("mars", None)],
                    title="Df par mois", description="Indisponibilité de la DRIMbox 3 par mois.", chart_id="df-3",
                    unit="h")
    root = _parse(svg)
    _named(root, "df-3", "Df par mois", "Indisponibilité de la DRIMbox 3 par mois.")
    bars = [r for r in _bars(root) if "portal-chart__bar" in r.get("class")]
    assert [float(r.get("data-value")) for r in bars] == [10, 20]
    heights = [float(r.get("height")) for r in bars]
    assert abs(heights[1] - 2 * heights[0]) < 0.2
    # Bars stand on the same axis.
    bottoms = {round(float(r.get("y")) + float(r.get("height")), 1) for r in bars}
    assert len(bottoms) == 1
    # The bar without a value says so instead of drawing nothing.
    missing = [t.text for t in root.iter(f"{{{NS['svg']}}}text") if t.get("class") == "portal-chart__missing"]
    assert missing == ["n.d."]
    assert bars[0].find("svg:title", NS).text == "janv. : 10 h"


def test_stacked_segments_and_thresholds():
    root = _parse(bar_chart(
        [Bar("2027-01", (Segment(3, "success", "PERF 1"), Segment(1, "warning", "PERF 0,5")))],
        title="PERF", description="d", chart_id="perf", thresholds=[Threshold(2, "seuil")]))
    first, second = [r for r in _bars(root) if "portal-chart__bar" in r.get("class")]
    # The second segment sits on top of the first, a third of its height.
    assert abs(float(second.get("y")) + float(second.get("height")) - float(first.get("y"))) < 0.2
    assert abs(float(first.get("height")) - 3 * float(second.get("height"))) < 0.3
    line = root.find(".//svg:line[@class='portal-chart__threshold']", NS)
    # The threshold at 2 of a 0..4 scale drawn where a bar of height 2 would end.
    assert abs(float(line.get("y1")) - (float(first.get("y")) + float(first.get("height")) / 3)) < 0.3


def test_texts_from_data_are_escaped():
    hostile = '<script>alert("x")</script> & "quotes"'
    for svg in (
        bar_chart([Bar.single(hostile, 1)], title=hostile, description=hostile, chart_id="a"),
        line_chart([hostile], [Series(hostile, (1.0,))], title=hostile, description=hostile, chart_id="b"),
        timeline_chart([Span(hostile, date(2027, 1, 1), date(2027, 6, 1), text=hostile)], start=date(2027, 1, 1),
                       end=date(2028, 1, 1), today=date(2027, 3, 1), title=hostile, description=hostile,
                       chart_id="c"),
    ):
        assert "<script>" not in svg
        root = _parse(svg)
        assert root.find("svg:title", NS).text == hostile


def test_line_chart_breaks_at_missing_values_and_maps_points():
    root = _parse(line_chart(["1", "2", "3", "4", "5"], [Series("Moyenne", (100.0, 200.0, None, 50.0, 50.0))],
                             title="Latence", description="d", chart_id="lat", unit="ms"))
    _named(root, "lat", "Latence", "d")
    # Two runs: [100, 200] and [50, 50]; the missing value is no point.
    assert len(root.findall(".//svg:polyline", NS)) == 2
    points = root.findall(".//svg:circle", NS)
    assert [float(p.get("data-value")) for p in points] == [100, 200, 50, 50]
    ys = [float(p.get("cy")) for p in points]
    base = max(float(line.get("y1")) for line in root.findall(".//svg:line", NS))
    assert abs((base - ys[1]) - 2 * (base - ys[0])) < 0.3  # 200 twice as high as 100
    xs = [float(p.get("cx")) for p in points]
    assert xs[0] < xs[1] < xs[2] < xs[3]
    assert points[0].find("svg:title", NS).text == "Moyenne, 1 : 100 ms"


def test_timeline_maps_dates_to_positions_and_marks_today():
    start, end = date(2027, 1, 1), date(2028, 1, 1)
    root = _parse(timeline_chart(
        [Span("db 12", date(2026, 6, 1), date(2027, 7, 2), text="expire le 02/07/2027", tone="warning"),
         Span("vi 12", date(2027, 1, 1), date(2027, 4, 2)),
         Span("ancien", date(2025, 1, 1), date(2025, 6, 1))],
        start=start, end=end, today=date(2027, 4, 2), title="Validité", description="d", chart_id="t"))
    spans = root.findall(".//svg:rect[@data-start]", NS)
    assert len(spans) == 2  # the span before the window: label only
    db, vi = spans
    left = float(vi.get("x"))
    full = (float(db.get("x")) + float(db.get("width")) - left) / ((date(2027, 7, 2) - start).days / 365)
    # vi ends at day 91 of 365 of the window; db starts before it, clipped to the left edge.
    assert abs(float(db.get("x")) - left) < 0.1
    assert abs(float(vi.get("width")) - full * 91 / 365) < 0.5
    today = root.find(".//svg:line[@class='portal-chart__today']", NS)
    assert abs(float(today.get("x1")) - (left + float(vi.get("width")))) < 0.2
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "db 12" in labels and "ancien" in labels and "janv. 2027" not in labels and "févr. 2027" in labels


def test_french_numbers_and_round_ticks():
    assert format_number(0.5) == "0,5"
    assert format_number(12.0) == "12"
    assert format_number(1250, 0) == "1\u202f250"
    assert nice_ticks(23) == [0, 10, 20, 30]
    assert nice_ticks(1) == [0, 0.25, 0.5, 0.75, 1]
    assert nice_ticks(0) == [0, 1]


def test_an_empty_chart_is_still_a_valid_named_image():
    for svg in (bar_chart([], title="Vide", description="Aucune donnée.", chart_id="e1"),
                line_chart([], [], title="Vide", description="Aucune donnée.", chart_id="e2"),
                timeline_chart([], start=date(2027, 1, 1), end=date(2027, 2, 1), today=None, title="Vide",
                               description="Aucune donnée.", chart_id="e3")):
        _named(_parse(svg), svg.split('id="')[1].split('"')[0], "Vide", "Aucune donnée.")


def test_zero_is_a_thin_mark_not_a_gap():
    root = _parse(bar_chart([Bar.single("janv.", 0, text="0:00"), Bar.single("févr.", None)], title="t",
                            description="d", chart_id="z"))
    marks = [r for r in _bars(root) if "portal-chart__bar" in r.get("class")]
    assert [(m.get("data-value"), m.get("height")) for m in marks] == [("0", "2")]
    assert marks[0].find("svg:title", NS).text == "janv. : 0:00"


def test_counts_get_whole_ticks():
    root = _parse(bar_chart([Bar.single("a", 1), Bar.single("b", 2)], title="t", description="d", chart_id="w",
                            whole=True))
    ticks = [t.text for t in root.iter(f"{{{NS['svg']}}}text") if t.get("text-anchor") == "end"]
    assert ticks == ["0", "1", "2"]
    assert nice_ticks(3, whole=True) == [0, 1, 2, 3]


def test_labels_are_thinned_when_they_would_overlap():
    labels = [f"mois {n:02d} 2027" for n in range(24)]
    root = _parse(bar_chart([Bar.single(label, 1) for label in labels], title="t", description="d", chart_id="l"))
    shown = [t.text for t in root.iter(f"{{{NS['svg']}}}text") if t.get("class") == "portal-chart__label"]
    assert shown[0] == labels[0] and 1 < len(shown) < len(labels)
    xs = [float(t.get("x")) for t in root.iter(f"{{{NS['svg']}}}text") if t.get("class") == "portal-chart__label"]
    assert min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= len(labels[0]) * 6.5
