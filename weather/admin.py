"""Read-only admin of the weather (every change goes through the weather services)."""
from trustspace.admin import ReadOnlyAdmin, site

from .models import (
    DrimboxWeather,
    GeneratedReport,
    Incident,
    LocationObservation,
    MaintenanceWindow,
    MeasurementPolicy,
    ProbeLocation,
    Transition,
)


class ProbeLocationAdmin(ReadOnlyAdmin):
    list_display = ["name", "label", "active", "last_report_at"]


class LocationObservationAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "location", "checked_at", "status", "db_ok", "vi_ok", "consecutive_failures"]
    list_filter = ["status", "location"]
    list_select_related = ["drimbox", "location"]


class DrimboxWeatherAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "status", "since", "reason"]
    list_filter = ["status"]
    list_select_related = ["drimbox"]


class TransitionAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "old_status", "new_status", "effective_at", "recorded_at", "reason"]
    list_filter = ["new_status"]
    list_select_related = ["drimbox"]
    date_hierarchy = "effective_at"


class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "opened_at", "gti_due_at", "acknowledged_at", "gtr_due_at", "restored_at"]
    list_select_related = ["drimbox"]
    date_hierarchy = "opened_at"


class MaintenanceWindowAdmin(ReadOnlyAdmin):
    list_display = ["drimbox", "starts_at", "ends_at", "reason", "declared_by", "cancelled_at"]
    list_select_related = ["drimbox", "declared_by"]


class MeasurementPolicyAdmin(ReadOnlyAdmin):
    list_display = ["version", "reference_period", "support_hours_only", "maintenance_counts", "effective_from"]


class GeneratedReportAdmin(ReadOnlyAdmin):
    list_display = ["period_key", "scope_label", "fmt", "rows", "status", "created_at", "finished_at", "requested_by"]
    list_filter = ["status", "fmt"]
    list_select_related = ["requested_by"]


site.register(ProbeLocation, ProbeLocationAdmin)
site.register(LocationObservation, LocationObservationAdmin)
site.register(DrimboxWeather, DrimboxWeatherAdmin)
site.register(Transition, TransitionAdmin)
site.register(Incident, IncidentAdmin)
site.register(MaintenanceWindow, MaintenanceWindowAdmin)
site.register(MeasurementPolicy, MeasurementPolicyAdmin)
site.register(GeneratedReport, GeneratedReportAdmin)
