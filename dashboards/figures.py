"""The dashboards' charts, each with the table that says the same in text (its accessible alternative).

``Figure`` holds the SVG (``trustspace.charts``, every text escaped there) and the table's caption, headers and
rows; ``templates/dashboards/includes/figure.html`` shows both. The builders read the domain (PERF reports,
certificates, probe latencies) and never write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from certificates.models import Certificate
from trustspace import charts
from trustspace.errors import DomainError
from weather import perf
from weather.clock import PARIS
from weather.latency import daily_latency
from weather.models import Transition, WeatherStatus

MONTHS = 12
LATENCY_DAYS = 30
CERTIFICATE_STATES = {"valide": "Valide", "expire": "Expiré", "remplace": "Remplacé", "revoque": "Révoqué"}


@dataclass
class Figure:
    chart_id: str
    svg: SafeString
    caption: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""  # under the chart: how to read it
    collapsed: bool = False  # a long table behind « Voir les données »


def _figure(chart_id, svg, caption, headers, rows, **kwargs):
    return Figure(chart_id, mark_safe(svg), caption, headers, rows, **kwargs)  # noqa: S308 - escaped by charts


def month_label(year: int, month: int) -> str:
    return f"{charts.MONTHS_SHORT[month - 1]} {year}"


def _period_label(report) -> str:
    period = report.period
    if period.kind == "quarter":
        return f"T{period.index} {period.year}"
    return month_label(period.year, period.index)


def _month_end(key: str) -> datetime:
    year, month = (int(part) for part in key.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=PARIS)


def perf_history(*, operator=None, drimboxes=None, months: int = MONTHS, now=None, since=None) -> list:
    """The PERF reports of the last ``months`` reference periods, oldest first (a quarterly policy: each quarter
    once); a period the policy cannot measure is left out, and so are the months ending before ``since`` (not
    computed). A fixed number of queries per period."""
    reports, seen = [], set()
    for key in reversed(perf.recent_periods(months, now=now)):
        if since is not None and _month_end(key) <= since:
            continue
        try:
            report = perf.compute(key, operator=operator, drimboxes=drimboxes, now=now)
        except DomainError:
            continue
        if report.period.key in seen:
            continue
        seen.add(report.period.key)
        reports.append(report)
    return reports


def drimbox_perf_history(drimbox, *, months: int = MONTHS, now=None) -> list[tuple]:
    """(report, measured) of one DRIMbox's last ``months`` periods, from the first one the weather knew it in —
    the rule of ``weather.perf``: a transition inside the period, or a probed status other than « pas de données »
    at its start (a withdrawn DRIMbox, silent since, is not measured). Its transitions in one query."""
    changes = list(Transition.objects.filter(drimbox=drimbox).order_by("effective_at", "id")
                   .values_list("effective_at", "new_status"))
    if not changes:
        return []
    history = []
    for report in perf_history(drimboxes=[drimbox.pk], months=months, now=now, since=changes[0][0]):
        start, until = report.period.start, report.measured_until
        before = [status for at, status in changes if at < start]
        inside = any(start <= at < until for at, _status in changes)
        measured = inside or (bool(before) and before[-1] != WeatherStatus.NO_DATA)
        if measured or history:
            history.append((report, measured))
    return history


def operator_perf_figure(reports, *, chart_id="perf-mois") -> Figure:
    """How many of the operator's DRIMboxes scored PERF 1, 0.5 and 0, per period (stacked bars), from the first
    period one of them was measured."""
    first = next((index for index, report in enumerate(reports) if report.rows), len(reports))
    reports = reports[first:]
    bars, rows = [], []
    for report in reports:
        counts = perf.summary(report.rows)
        df_total = sum((row.df for row in report.rows), timedelta(0))
        label = _period_label(report)
        bars.append(charts.Bar(label, (charts.Segment(counts["full"], "success", "PERF 1"),
                                       charts.Segment(counts["half"], "warning", "PERF 0,5"),
                                       charts.Segment(counts["zero"], "error", "PERF 0"))))
        rows.append([label + (" (en cours)" if report.partial else ""), str(len(report.rows)), str(counts["full"]),
                     str(counts["half"]), str(counts["zero"]), perf.format_duration(df_total)])
    measured = sum(1 for r in reports if r.rows)
    svg = charts.bar_chart(
        bars, chart_id=chart_id, unit="DRIMbox", whole=True, title="PERF de mes DRIMbox par mois",
        description=(f"Nombre de DRIMbox ayant obtenu PERF 1, 0,5 ou 0 sur chacun des {len(reports)} derniers mois "
                     f"({measured} mesurés, depuis la première mesure d'une de mes DRIMbox). Le tableau qui suit "
                     "donne les mêmes chiffres."))
    return _figure(chart_id, svg, "PERF par mois (nombre de DRIMbox)",
                   ["Mois", "DRIMbox mesurées", "PERF 1", "PERF 0,5", "PERF 0", "Df cumulé (h:mm)"], rows,
                   note="Vert : PERF 1 (Df ≤ 10 h) ; orange : PERF 0,5 (10 h < Df ≤ 20 h) ; "
                        "rouge : PERF 0 (Df > 20 h).")


PERF_TONES = {Decimal("1"): "success", Decimal("0.5"): "warning", Decimal("0"): "error"}


def drimbox_perf_figure(history, drimbox, *, chart_id="df-mois") -> Figure:
    """One DRIMbox's Df per period (``drimbox_perf_history``), the bar coloured by its PERF, with the 10 h and 20 h
    thresholds; « n.d. » for a period the weather did not measure it."""
    bars, rows = [], []
    reports = [report for report, _measured in history]
    for report, measured in history:
        label = _period_label(report)
        row = next((r for r in report.rows if r.drimbox_id == drimbox.pk), None) if measured else None
        if row is None:
            bars.append(charts.Bar.single(label, None))
            rows.append([label, "non mesurée", "—", "—"])
            continue
        hours = row.df.total_seconds() / 3600
        bars.append(charts.Bar.single(label, hours, text=f"{row.df_hhmm} (PERF {row.perf_display})",
                                      tone=PERF_TONES[row.perf]))
        rows.append([label + (" (en cours)" if report.partial else ""), row.df_hhmm, row.perf_display,
                     str(row.down_count)])
    svg = charts.bar_chart(
        bars, chart_id=chart_id, unit="heures",
        thresholds=[charts.Threshold(10, "10 h : PERF 0,5 au-delà"), charts.Threshold(20, "20 h : PERF 0 au-delà",
                                                                                      "error")],
        title=f"Indisponibilité (Df) et PERF de la DRIMbox {drimbox.identifiant} par mois",
        description=(f"Durée d'indisponibilité de la DRIMbox {drimbox.identifiant} sur chacun des {len(reports)} "
                     "derniers mois, en heures, avec les seuils de 10 h et 20 h ; la couleur de la barre donne le "
                     "PERF du mois. Le tableau qui suit donne les mêmes chiffres."))
    return _figure(chart_id, svg, f"Df et PERF de la DRIMbox {drimbox.identifiant} par mois",
                   ["Mois", "Df (h:mm)", "PERF", "Passages en indisponibilité"], rows,
                   note="Vert : PERF 1 ; orange : PERF 0,5 ; rouge : PERF 0"
                        + (" ; « n.d. » : mois où la DRIMbox n'était pas mesurée." if any(not b.segments for b in bars)
                           else "."))


def latency_figure(drimbox, *, days: int = LATENCY_DAYS, now=None, chart_id="latence") -> Figure:
    """The db check's response time per day (mean and maximum), from the probes' hourly history."""
    history = daily_latency(drimbox.pk, days=days, now=now)
    labels = [f"{d.day:%d/%m}" for d in history]
    mean = tuple(round(d.mean_ms) if d.mean_ms is not None else None for d in history)
    highest = tuple(float(d.max_ms) if d.max_ms is not None else None for d in history)
    svg = charts.line_chart(
        labels, [charts.Series("Moyenne", tuple(float(v) if v is not None else None for v in mean), "primary"),
                 charts.Series("Maximum", highest, "warning")],
        chart_id=chart_id, unit="ms",
        title=f"Temps de réponse de la DRIMbox {drimbox.identifiant} sur {days} jours",
        description=(f"Temps de réponse du point d'accès db mesuré par les sondes, moyenne et maximum par jour "
                     f"(heure de Paris), en millisecondes, sur les {days} derniers jours ; un jour sans mesure "
                     "interrompt la courbe. Le tableau qui suit donne les mêmes chiffres."))
    rows = [[f"{d.day:%d/%m/%Y}", str(d.samples), "—" if d.mean_ms is None else charts.format_number(d.mean_ms, 0),
             "—" if d.min_ms is None else str(d.min_ms), "—" if d.max_ms is None else str(d.max_ms)]
            for d in reversed(history)]
    measured = sum(1 for d in history if d.samples)
    return _figure(chart_id, svg, "Temps de réponse par jour (ms), du plus récent au plus ancien",
                   ["Jour", "Mesures", "Moyenne (ms)", "Minimum (ms)", "Maximum (ms)"], rows, collapsed=True,
                   note=f"{measured} jour{'s' if measured > 1 else ''} mesuré{'s' if measured > 1 else ''} sur {days}."
                   if measured else "Aucune mesure sur la période : la DRIMbox n'a pas encore été sondée.")


def _month_start(day: date, months_ahead: int) -> date:
    total = day.month - 1 + months_ahead
    return date(day.year + total // 12, total % 12 + 1, 1)


def expiry_figure(certificates, *, months: int = MONTHS, now=None, chart_id="echeances") -> Figure:
    """Current certificates (not superseded, not revoked) by month of expiry over the next ``months`` months,
    db and vi stacked, and those already expired in a first bar. One query."""
    now = now or timezone.now()
    today = now.astimezone(PARIS).date()
    firsts = [_month_start(today, n) for n in range(months + 1)]
    expired, buckets = {"db": 0, "vi": 0}, [{"db": 0, "vi": 0} for _ in range(months)]
    for kind, not_after in certificates.filter(superseded_at__isnull=True, revoked_at__isnull=True).values_list(
            "kind", "not_after"):
        day = not_after.astimezone(PARIS).date()
        if not_after <= now:
            expired[kind] += 1
        elif day < firsts[-1]:
            buckets[next(i for i in range(months) if day < firsts[i + 1])][kind] += 1
    labels = ["Expirés"] + [month_label(first.year, first.month) for first in firsts[:-1]]
    values = [expired, *buckets]
    bars = [charts.Bar(label, (charts.Segment(counts["db"], "primary", "db (IGC-Santé)"),
                               charts.Segment(counts["vi"], "info", "vi (marché)")))
            if counts["db"] + counts["vi"] else charts.Bar(label, (charts.Segment(0),))
            for label, counts in zip(labels, values, strict=True)]
    svg = charts.bar_chart(
        bars, chart_id=chart_id, unit="certificats", whole=True, title="Échéances des certificats par mois",
        description=(f"Nombre de certificats en cours (db et vi) arrivant à expiration chaque mois sur les {months} "
                     "prochains mois, précédé de ceux déjà expirés et non remplacés. Le tableau qui suit donne les "
                     "mêmes chiffres."))
    rows = [[label, str(counts["db"]), str(counts["vi"])] for label, counts in zip(labels, values, strict=True)]
    return _figure(chart_id, svg, "Certificats en cours par mois d'expiration", ["Mois", "db", "vi"], rows,
                   note="Bleu foncé : certificats db (IGC-Santé) ; bleu clair : certificats vi (autorité du marché).",
                   collapsed=True)


def _tone(certificate, now):
    state = certificate.state_at(now)
    if state != "valide":
        return state, {"expire": "error", "revoque": "error"}.get(state, "neutral")
    days = (certificate.not_after - now).days
    return state, "error" if days <= 15 else "warning" if days <= 60 else "success"


def validity_figure(drimbox, certificates, *, now=None, chart_id="validite") -> Figure:
    """A DRIMbox's certificates as spans of validity (from three months back to a year ahead), today marked."""
    now = now or timezone.now()
    today = now.astimezone(PARIS).date()
    start, end = today - timedelta(days=92), today + timedelta(days=366)
    spans, rows = [], []
    for certificate in certificates:
        state, tone = _tone(certificate, now)
        first, last = (timezone.localtime(certificate.not_before).date(),
                       timezone.localtime(certificate.not_after).date())
        label = f"{certificate.kind} n° {certificate.serial[:8]}"
        spans.append(charts.Span(label, first, last, tone=tone,
                                 text=f"{label} : valide du {first:%d/%m/%Y} au {last:%d/%m/%Y} "
                                      f"({CERTIFICATE_STATES[state].lower()})"))
        left = (certificate.not_after - now).days
        rows.append([certificate.kind, certificate.serial, f"{first:%d/%m/%Y}", f"{last:%d/%m/%Y}",
                     CERTIFICATE_STATES[state], str(left) if state == "valide" else "—"])
    svg = charts.timeline_chart(
        spans, start=start, end=end, today=today, chart_id=chart_id,
        title=f"Validité des certificats de la DRIMbox {drimbox.identifiant}",
        description=("Période de validité de chaque certificat de la DRIMbox, de trois mois avant à un an après "
                     "aujourd'hui (trait rouge) ; vert : valide, orange : expire dans les 60 jours, rouge : expire "
                     "dans les 15 jours, expiré ou révoqué, gris : remplacé. Le tableau qui suit donne les dates."))
    return _figure(chart_id, svg, "Certificats de la DRIMbox (validité)",
                   ["Type", "Numéro de série", "Valide du", "Expire le", "État", "Jours restants"], rows,
                   collapsed=True)


def certificate_list(certificates) -> list[Certificate]:
    return list(certificates.defer("pem", "chain_pem", "checks"))
