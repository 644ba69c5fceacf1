"""The weather's write path (DESIGN §8): every write of a weather model happens in this package.

Callers write ``from weather import services`` then ``services.record_observations(...)``; inside the package,
modules import their siblings directly (``from weather.services.incidents import ...``).
"""
from weather.services.acknowledgements import acknowledge_incident
from weather.services.backfill import BackfillResult, PastAcknowledgement, PastChange, backfill_history
from weather.services.latency import add_latency_samples
from weather.services.locations import activate_location, first_location, location_named
from weather.services.maintenance import cancel_maintenance, declare_maintenance, maintenance_max_length
from weather.services.observations import mark_silent, quorum_required, record_observations, set_status
from weather.services.policy import create_policy_version
from weather.services.reports import generate_report, purge_reports, request_report
from weather.services.summaries import forget_closed_days, record_day_summaries

__all__ = [
    "BackfillResult",
    "PastAcknowledgement",
    "PastChange",
    "acknowledge_incident",
    "activate_location",
    "add_latency_samples",
    "backfill_history",
    "cancel_maintenance",
    "create_policy_version",
    "declare_maintenance",
    "first_location",
    "forget_closed_days",
    "generate_report",
    "location_named",
    "maintenance_max_length",
    "mark_silent",
    "purge_reports",
    "quorum_required",
    "record_day_summaries",
    "record_observations",
    "request_report",
    "set_status",
]
