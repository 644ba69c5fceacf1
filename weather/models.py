"""Weather (météo) state (DESIGN §8).

Transitions are rows (``Transition``): every change of a DRIMbox's probed status is stored with its
effective time (the first failed probe for a DOWN), and downtime, history bars, Df and PERF are derived
from them. ``DrimboxWeather`` is only the cached head of that history. Declared maintenance windows are
rows of their own (``MaintenanceWindow``): the displayed status is « maintenance » inside an active
window, while transitions keep recording what the probes saw, so that a policy may count or exclude
downtime during maintenance. Only ``weather.services`` writes these models.
"""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from operators.models import Drimbox, Operator
from trustspace.paris_time import paris_date, paris_datetime_seconds
from trustspace.statemachine import StateMachineMixin


class WeatherStatus(models.TextChoices):
    OPERATIONAL = "operational", "Opérationnel"
    DEGRADED = "degraded", "Dégradé"
    DOWN = "down", "Indisponible"
    MAINTENANCE = "maintenance", "Maintenance"
    NO_DATA = "no_data", "Pas de données"


class ProbeLocation(models.Model):
    """A place probes run from; its Celery queue is ``probe.<name>``."""

    name = models.SlugField("nom", max_length=40, unique=True)
    label = models.CharField("libellé", max_length=100)
    active = models.BooleanField("active", default=True)
    last_report_at = models.DateTimeField("dernier compte rendu", null=True, blank=True)
    # Probe reports received from this location (one per probe batch: a round of more DRIMboxes than
    # WEATHER_PROBE_BATCH_SIZE makes several), counted by record_observations; exported as a Prometheus counter.
    rounds_reported = models.PositiveBigIntegerField("comptes rendus reçus", default=0)

    class Meta:
        ordering = ("name",)
        verbose_name = "point de sonde"
        verbose_name_plural = "points de sonde"

    def __str__(self):
        return self.label or self.name


# What the probes can report: « maintenance » is only displayed (inside a declared window), never probed.
PROBED_STATUSES = frozenset({WeatherStatus.OPERATIONAL, WeatherStatus.DEGRADED, WeatherStatus.DOWN,
                             WeatherStatus.NO_DATA})


class LocationObservation(StateMachineMixin, models.Model):
    """The latest probing state of one DRIMbox seen from one location (one row per pair, updated in place)."""

    # A location reports what its last probe saw (« en panne » once its failures are confirmed); it never reports
    # « pas de données » again: only the DRIMbox's head goes silent (``DrimboxWeather``).
    TRANSITIONS = {
        WeatherStatus.NO_DATA: {WeatherStatus.OPERATIONAL, WeatherStatus.DEGRADED, WeatherStatus.DOWN},
        WeatherStatus.OPERATIONAL: {WeatherStatus.DEGRADED, WeatherStatus.DOWN},
        WeatherStatus.DEGRADED: {WeatherStatus.OPERATIONAL, WeatherStatus.DOWN},
        WeatherStatus.DOWN: {WeatherStatus.OPERATIONAL, WeatherStatus.DEGRADED},
    }

    drimbox = models.ForeignKey(Drimbox, on_delete=models.CASCADE, related_name="weather_observations")
    location = models.ForeignKey(ProbeLocation, on_delete=models.CASCADE, related_name="observations")
    checked_at = models.DateTimeField("dernière sonde")
    db_ok = models.BooleanField("db joignable", default=False)
    db_error = models.CharField("erreur db", max_length=300, blank=True)
    vi_ok = models.BooleanField("vi joignable", null=True, blank=True)  # None: no vi name
    vi_error = models.CharField("erreur vi", max_length=300, blank=True)
    latency_ms = models.PositiveIntegerField("latence (ms)", null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField("échecs consécutifs", default=0)
    first_failure_at = models.DateTimeField("premier échec de la série", null=True, blank=True)
    status = models.CharField("statut vu de ce point", max_length=12, choices=WeatherStatus.choices,
                              default=WeatherStatus.NO_DATA)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("drimbox", "location"), name="weather_observation_unique"),)
        verbose_name = "observation d'un point de sonde"
        verbose_name_plural = "observations des points de sonde"

    def __str__(self):
        return f"DRIMbox {self.drimbox_id} vue du point de sonde {self.location_id} : {self.get_status_display()}"


class LatencyHour(models.Model):
    """The response times the probes measured on one DRIMbox's db endpoint during one hour (UTC), every location
    together: enough for its history chart (mean, minimum, maximum per hour or per day) at one row an hour.
    Written with the observations (``weather.services.latency``); rows older than ``WEATHER_LATENCY_DAYS`` go."""

    drimbox = models.ForeignKey(Drimbox, on_delete=models.CASCADE, related_name="latency_hours")
    hour = models.DateTimeField("heure (début, UTC)")
    samples = models.PositiveIntegerField("mesures")
    total_ms = models.PositiveBigIntegerField("somme (ms)")
    min_ms = models.PositiveIntegerField("minimum (ms)")
    max_ms = models.PositiveIntegerField("maximum (ms)")

    class Meta:
        constraints = (models.UniqueConstraint(fields=("drimbox", "hour"), name="weather_latency_hour_unique"),)
        verbose_name = "latence horaire"
        verbose_name_plural = "latences horaires"

    def __str__(self):
        return f"Latence de la DRIMbox {self.drimbox_id} à {self.hour:%Y-%m-%dT%H}Z"

    @property
    def mean_ms(self):
        return self.total_ms / self.samples if self.samples else None


class DrimboxWeather(StateMachineMixin, models.Model):
    """The current status of one DRIMbox: the head of its ``Transition`` rows."""

    # The probes (through the quorum) move it between any two probed statuses; each move is a ``Transition`` row.
    TRANSITIONS = {status: PROBED_STATUSES - {status} for status in WeatherStatus if status in PROBED_STATUSES}

    drimbox = models.OneToOneField(Drimbox, on_delete=models.CASCADE, primary_key=True, related_name="weather")
    status = models.CharField("statut", max_length=12, choices=WeatherStatus.choices, default=WeatherStatus.NO_DATA,
                              db_index=True)
    since = models.DateTimeField("depuis")
    reason = models.CharField("motif", max_length=300, blank=True)

    class Meta:
        verbose_name = "météo d'une DRIMbox"
        verbose_name_plural = "météo des DRIMbox"

    def __str__(self):
        return f"Météo de la DRIMbox {self.drimbox_id} : {self.get_status_display()}"


class Transition(models.Model):
    """One change of a DRIMbox's probed status, kept forever."""

    drimbox = models.ForeignKey(Drimbox, on_delete=models.CASCADE, related_name="weather_transitions")
    old_status = models.CharField("ancien statut", max_length=12, choices=WeatherStatus.choices)
    new_status = models.CharField("nouveau statut", max_length=12, choices=WeatherStatus.choices)
    effective_at = models.DateTimeField("effectif le")
    recorded_at = models.DateTimeField("enregistré le", default=timezone.now)
    reason = models.CharField("motif", max_length=300, blank=True)

    class Meta:
        ordering = ("drimbox_id", "effective_at", "id")
        indexes = (
            # The order of ``Meta.ordering``: « the last transition before » is one step back, without a sort.
            models.Index(fields=("drimbox", "effective_at", "id"), name="weather_transition_box_at_id"),
            models.Index(fields=("effective_at",), name="weather_transition_at"),
        )
        constraints = (
            models.CheckConstraint(condition=~Q(old_status=F("new_status")), name="weather_transition_changes"),
        )
        verbose_name = "transition de statut"
        verbose_name_plural = "transitions de statut"

    def __str__(self):
        return (f"{self.drimbox} : {self.get_old_status_display()} → {self.get_new_status_display()} le "
                f"{paris_datetime_seconds(self.effective_at)}")


class DaySummary(models.Model):
    """One closed Europe/Paris day of a DRIMbox's public weather, as ``history.daily_history`` computes it: a past
    day never changes, so the 90-day bars are read from here and only today is computed per request.

    Written only by ``weather.services.summaries``: filled as days close (beat), dropped when a late transition
    reaches back into a closed day (``services.observations``), rebuilt by ``manage.py weather_day_summaries``.
    ``seconds`` lists ``[status, seconds]`` in the order the statuses first appear in the day (the floats the
    live computation adds up, in its order, so that sums over the days come out the same to the last bit).
    """

    drimbox = models.ForeignKey(Drimbox, on_delete=models.CASCADE, related_name="weather_days")
    day = models.DateField("jour (Europe/Paris)")
    shown_status = models.CharField("état affiché", max_length=12, choices=WeatherStatus.choices)
    # What the bars show (a list page reads these only); ``seconds`` is for the availability of one DRIMbox.
    down_minutes = models.PositiveSmallIntegerField("minutes indisponible", default=0)
    degraded_minutes = models.PositiveSmallIntegerField("minutes dégradé", default=0)
    maintenance_minutes = models.PositiveSmallIntegerField("minutes en maintenance", default=0)
    no_data_minutes = models.PositiveSmallIntegerField("minutes sans données", default=0)
    seconds = models.JSONField("secondes par état", default=list)
    computed_at = models.DateTimeField("calculé le", default=timezone.now)

    class Meta:
        ordering = ("drimbox_id", "day")
        constraints = (models.UniqueConstraint(fields=("drimbox", "day"), name="weather_daysummary_box_day"),)
        indexes = (models.Index(fields=("day",), name="weather_daysummary_day"),)
        verbose_name = "journée de météo"
        verbose_name_plural = "journées de météo"

    def __str__(self):
        return f"Météo de la DRIMbox {self.drimbox_id} le {paris_date(self.day)} : {self.get_shown_status_display()}"


class DayStrip(models.Model):
    """The bars of a DRIMbox's closed days in the history window as the public list draws them (SVG ``<rect>``s,
    ``weather.badges.STRIP_BAR_WIDTH`` wide): a list page reads one row per DRIMbox instead of 89 stored days and
    draws only today. Written only by ``weather.services.summaries`` from the stored days, dropped with them; a
    strip is used only when its window and drawing version are the current ones."""

    drimbox = models.OneToOneField(Drimbox, on_delete=models.CASCADE, primary_key=True, related_name="weather_strip")
    first_day = models.DateField("premier jour (Europe/Paris)")
    last_day = models.DateField("dernier jour (Europe/Paris)")
    version = models.PositiveSmallIntegerField("version du dessin")
    bars = models.TextField("barres SVG")
    computed_at = models.DateTimeField("calculé le", default=timezone.now)

    class Meta:
        verbose_name = "barres des journées closes"
        verbose_name_plural = "barres des journées closes"

    def __str__(self):
        return f"Barres de la DRIMbox {self.drimbox_id} du {paris_date(self.first_day)} au {paris_date(self.last_day)}"


class Incident(models.Model):
    """Opened when a DRIMbox goes down; GTI runs to the acknowledgement, GTR to the restoration."""

    drimbox = models.ForeignKey(Drimbox, on_delete=models.CASCADE, related_name="weather_incidents")
    opened_at = models.DateTimeField("début", db_index=True)
    reason = models.CharField("motif", max_length=300, blank=True)
    gti_due_at = models.DateTimeField("échéance GTI")
    gtr_due_at = models.DateTimeField("échéance GTR")
    acknowledged_at = models.DateTimeField("pris en compte le", null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+", verbose_name="pris en compte par")
    acknowledgement_comment = models.TextField("commentaire de prise en compte", blank=True)
    restored_at = models.DateTimeField("rétabli le", null=True, blank=True)

    class Meta:
        ordering = ("-opened_at", "-id")
        constraints = (
            models.UniqueConstraint(fields=("drimbox",), condition=Q(restored_at__isnull=True),
                                    name="weather_one_open_incident"),
        )
        verbose_name = "incident"
        verbose_name_plural = "incidents"

    def __str__(self):
        # No time here: the audit trail freezes this text, and the pages write its times when they show them.
        return f"Incident n° {self.pk} de la {self.drimbox}"

    @property
    def is_open(self):
        return self.restored_at is None


class MaintenanceWindow(models.Model):
    """A maintenance window declared by the operator (shown on the weather; see the measurement policy)."""

    drimbox = models.ForeignKey(Drimbox, on_delete=models.CASCADE, related_name="maintenance_windows")
    starts_at = models.DateTimeField("début")
    ends_at = models.DateTimeField("fin")
    reason = models.CharField("motif", max_length=300)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name="déclarée par")
    created_at = models.DateTimeField("déclarée le", default=timezone.now)
    cancelled_at = models.DateTimeField("annulée le", null=True, blank=True)

    class Meta:
        ordering = ("-starts_at", "-id")
        indexes = (models.Index(fields=("drimbox", "starts_at"), name="weather_maintenance_box_start"),)
        constraints = (
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="weather_maintenance_ends_after"),
        )
        verbose_name = "fenêtre de maintenance"
        verbose_name_plural = "fenêtres de maintenance"

    def __str__(self):
        # No time here: the audit trail freezes this text, and the pages write its times when they show them.
        return f"Maintenance n° {self.pk} de la {self.drimbox}"


class ReferencePeriod(models.TextChoices):
    MONTH = "month", "mois civil (Europe/Paris)"
    QUARTER = "quarter", "trimestre civil (Europe/Paris)"


class MeasurementPolicy(models.Model):
    """A version of the Df/PERF measurement policy; versions are never changed, only superseded."""

    version = models.PositiveIntegerField("version", unique=True)
    reference_period = models.CharField("période de référence", max_length=10, choices=ReferencePeriod.choices,
                                        default=ReferencePeriod.MONTH)
    support_hours_only = models.BooleanField("heures ouvrées seulement", default=False)
    maintenance_counts = models.BooleanField("la maintenance déclarée compte comme indisponibilité", default=False)
    effective_from = models.DateTimeField("applicable à partir du")
    created_at = models.DateTimeField("créée le", default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name="créée par")
    comment = models.TextField("commentaire", blank=True)

    class Meta:
        ordering = ("-version",)
        verbose_name = "politique de mesure"
        verbose_name_plural = "politiques de mesure"

    def __str__(self):
        return f"Politique de mesure v{self.version}"

    def describe(self):
        hours = "heures ouvrées seulement" if self.support_hours_only else "toutes les heures"
        maintenance = "maintenance comptée" if self.maintenance_counts else "maintenance déclarée exclue"
        return f"v{self.version} — {self.get_reference_period_display()}, {hours}, {maintenance}"


class GeneratedReportStatus(models.TextChoices):
    PENDING = "en_attente", "En attente d'un traitement"
    RUNNING = "en_cours", "En cours de génération"
    READY = "pret", "Prêt"
    FAILED = "echec", "Échec"


IN_FLIGHT_REPORT_STATUSES = frozenset({GeneratedReportStatus.PENDING, GeneratedReportStatus.RUNNING})


GENERATED_REPORT_FILES = "rapports-perf"  # their folder in the media storage: <period>/<random>.<format>


def generated_report_upload_to(instance, filename):
    return f"{GENERATED_REPORT_FILES}/{instance.period_key}/{uuid.uuid4().hex}.{instance.fmt}"


class GeneratedReport(StateMachineMixin, models.Model):
    """A PERF report file laid out by a worker, too large for a web request, then kept.

    One row per request that needed a worker; a closed period's report is served again, without a new layout, to
    whoever asks for the same period, scope and format while its figures are unchanged (``fingerprint``, see
    ``weather.reports.fingerprint``). ``operator`` is the scope (empty: every DRIMbox, ANS only). Only
    ``weather.services`` writes these rows."""

    TRANSITIONS = {
        GeneratedReportStatus.PENDING: {GeneratedReportStatus.RUNNING, GeneratedReportStatus.FAILED},
        GeneratedReportStatus.RUNNING: {GeneratedReportStatus.READY, GeneratedReportStatus.FAILED},
    }

    status = models.CharField("état", max_length=12, choices=GeneratedReportStatus.choices,
                              default=GeneratedReportStatus.PENDING)
    fmt = models.CharField("format", max_length=4)
    period_key = models.CharField("période", max_length=7)
    period_label = models.CharField("période (libellé)", max_length=40)
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                 verbose_name="opérateur")
    scope_label = models.CharField("périmètre", max_length=300)
    filename = models.CharField("nom du fichier", max_length=120)
    rows = models.PositiveIntegerField("nombre de DRIMbox")
    # The period was over when the report was asked for: its figures no longer move, the file may be served again.
    closed_period = models.BooleanField("période close")
    fingerprint = models.CharField("empreinte des chiffres", max_length=64)
    # What makes two requests the same run (``weather.services.reports.request_fingerprint``: period, scope, format,
    # and the figures when the period is closed): at most one run in flight per value (database constraint below).
    request_fingerprint = models.CharField("empreinte de la demande", max_length=64)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     verbose_name="demandé par")
    created_at = models.DateTimeField("demandé le", default=timezone.now)
    started_at = models.DateTimeField("commencé le", null=True, blank=True)
    finished_at = models.DateTimeField("terminé le", null=True, blank=True)
    file = models.FileField("fichier", upload_to=generated_report_upload_to, blank=True)
    size = models.PositiveIntegerField("taille (octets)", default=0)
    error = models.TextField("erreur", blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = [models.Index(fields=["period_key", "fmt", "fingerprint"], name="weather_generated_same_idx"),
                   models.Index(fields=["finished_at"], name="weather_generated_done_idx")]
        constraints = [
            # Two first requests for the same report at the same instant start one run: the second insert fails and
            # the service follows the first run (a partial unique index, on SQLite and PostgreSQL alike).
            models.UniqueConstraint(
                fields=["request_fingerprint"], name="weather_generated_one_in_flight",
                condition=models.Q(status__in=[GeneratedReportStatus.PENDING, GeneratedReportStatus.RUNNING])),
        ]
        verbose_name = "rapport PERF généré"
        verbose_name_plural = "rapports PERF générés"

    def __str__(self):
        return f"Rapport PERF {self.period_label} ({self.scope_label}), {self.fmt.upper()}"

    def transition_subject(self):
        return f"Le rapport PERF {self.period_label} ({self.scope_label})"

    def transition_refused_message(self, new_status):
        return (f"{self.transition_subject()} est « {self.status_label().lower()} » : il ne peut pas passer à "
                f"« {self.status_label(new_status).lower()} ».")
