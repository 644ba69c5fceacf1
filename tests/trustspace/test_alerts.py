"""ANS alerts: raised once, resolved once, e-mailed to ADMIN_EMAILS and POSTed (signed) to ALERT_WEBHOOK_URL through
the outbox to a loopback receiver; each registered condition from real rows."""
import datetime as dt
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.support.webhook_receiver import running_receiver
from trustspace import alerts, outbox
from trustspace.models import Alert, BeatHeartbeat, OutboxMessage, OutboxStatus

SECRET = "alert-webhook-secret-for-tests"


@pytest.fixture
def receiver(settings):
    with running_receiver(lambda path: SECRET if path == "/alertes" else "") as (url, received):
        settings.ADMINS = [("ANS", "exploitation@ans.example.fr")]
        settings.ALERT_WEBHOOK_URL = f"{url}/alertes"
        settings.ALERT_WEBHOOK_SECRET = SECRET
        yield received


def deliver():
    """What the outbox worker does: deliver every due message (e-mails to locmem, webhooks over HTTP)."""
    return outbox.deliver_due()


def alert_mails():
    return [m for m in mail.outbox if "[ALERTE" in m.subject or "[RÉSOLU]" in m.subject]


def run_checks(names, now=None):
    from django.conf import settings

    return alerts.check_alerts(now=now, checks={name: settings.ALERT_CHECKS[name] for name in names})


def assert_opened_then_resolved(receiver, key, subject_part):
    """One e-mail and one valid webhook at the opening, then one of each at the resolution."""
    deliver()
    opened = [m for m in alert_mails() if "[ALERTE" in m.subject]
    resolved = [m for m in alert_mails() if "[RÉSOLU]" in m.subject]
    assert len(opened) == 1 and subject_part in opened[0].subject, [m.subject for m in alert_mails()]
    assert len(resolved) == 1 and subject_part in resolved[0].subject
    assert "exploitation@ans.example.fr" in opened[0].to
    events = [r["event"] for r in receiver if r["event"]["key"] == key]
    assert [e["type"] for e in events] == ["alert.opened", "alert.resolved"]
    assert all(r["valid"] for r in receiver)
    rows = Alert.objects.filter(key=key)
    assert rows.count() == 1 and rows.get().resolved_at is not None


@pytest.mark.django_db
def test_raise_notifies_once_and_resolve_once(receiver):
    first = alerts.raise_alert("demo", "Une condition", "détail 1", severity=alerts.WARNING)
    again = alerts.raise_alert("demo", "Une condition", "détail 2", severity=alerts.WARNING)
    assert again.pk == first.pk and Alert.objects.get().body == "détail 2"
    deliver()
    assert len(alert_mails()) == 1 and len(receiver) == 1
    message = alert_mails()[0]
    assert message.subject == "[Espace de Confiance DRIM-M] [ALERTE avertissement] Une condition"
    assert "détail 1" in message.body and "/ans/alertes/" in message.body
    hook = receiver[0]
    assert hook["valid"] and hook["headers"]["X-DRIMM-Event"] == "alert.opened"
    assert hook["event"]["key"] == "demo" and hook["event"]["severity"] == "warning"
    assert hook["event"]["link"].endswith("/ans/alertes/")

    assert alerts.resolve_alert("demo") is not None
    assert alerts.resolve_alert("demo") is None  # already resolved: nothing more
    deliver()
    assert len(alert_mails()) == 2 and "[RÉSOLU] Une condition" in alert_mails()[1].subject
    assert [r["event"]["type"] for r in receiver] == ["alert.opened", "alert.resolved"]
    assert all(r["valid"] for r in receiver)

    # The condition comes back: a new occurrence, notified again.
    alerts.raise_alert("demo", "Une condition", severity=alerts.WARNING)
    deliver()
    assert Alert.objects.filter(key="demo").count() == 2 and len(alert_mails()) == 3


@pytest.mark.django_db
def test_a_worse_condition_is_notified_again(receiver):
    alerts.raise_alert("demo", "Expire bientôt", severity=alerts.WARNING)
    alerts.raise_alert("demo", "Expire bientôt", severity=alerts.WARNING)
    alerts.raise_alert("demo", "Expiré", severity=alerts.CRITICAL)
    alerts.raise_alert("demo", "Expiré", severity=alerts.CRITICAL)
    deliver()
    assert [m.subject.rsplit("] ", 1)[1] for m in alert_mails()] == ["Expire bientôt", "Expiré"]
    assert Alert.objects.get().severity == "critical"


@pytest.mark.django_db
def test_a_rolled_back_alert_sends_nothing(receiver):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        alerts.raise_alert("demo", "Jamais envoyée")
        raise RuntimeError
    deliver()
    assert not Alert.objects.exists() and alert_mails() == [] and receiver == []


@pytest.mark.django_db
def test_beat_stopped_then_back(receiver, settings):
    settings.ALERT_BEAT_MAX_SECONDS = 300
    BeatHeartbeat.objects.create(pk=1, beat_at=timezone.now() - timedelta(minutes=12), holder="host:1")
    assert run_checks(["beat"]) == {"beat": 1}
    assert run_checks(["beat"]) == {"beat": 1}  # still stopped: not notified again
    BeatHeartbeat.objects.filter(pk=1).update(beat_at=timezone.now())
    assert run_checks(["beat"]) == {"beat": 0}
    assert_opened_then_resolved(receiver, "beat", "Le beat Celery ne tourne plus")


@pytest.mark.django_db
def test_no_heartbeat_at_all_when_a_beat_is_expected(receiver, settings):
    settings.ALERT_BEAT_EXPECTED = False
    assert run_checks(["beat"]) == {"beat": 0}
    settings.ALERT_BEAT_EXPECTED = True
    assert run_checks(["beat"]) == {"beat": 1}
    assert Alert.objects.get(key="beat").severity == "critical"


@pytest.mark.django_db
def test_outbox_failing_then_retried(receiver, settings):
    settings.ALERT_OUTBOX_ATTEMPTS = 3
    failed = OutboxMessage.objects.create(kind="email", status=OutboxStatus.FAILED, attempts=10,
                                          payload={"to": ["x@example.fr"], "subject": "s", "body": "b"},
                                          last_error="SMTP 550 boîte inconnue")
    stuck = OutboxMessage.objects.create(kind="email", status=OutboxStatus.PENDING, attempts=2,
                                         next_attempt_at=timezone.now() + timedelta(hours=1),
                                         payload={"to": ["y@example.fr"], "subject": "s", "body": "b"})
    assert run_checks(["outbox"]) == {"outbox": 1}
    alert = Alert.objects.get(key="outbox")
    assert "Envois en échec (à relancer) : 1" in alert.body and "SMTP 550" in alert.body
    failed.status = OutboxStatus.SENT
    failed.save()
    assert run_checks(["outbox"]) == {"outbox": 0}
    deliver()
    OutboxMessage.objects.filter(pk=stuck.pk).update(attempts=3)  # retried again and again
    assert run_checks(["outbox"]) == {"outbox": 1}
    assert Alert.objects.filter(key="outbox", resolved_at__isnull=True).get().severity == "warning"
    OutboxMessage.objects.filter(pk=stuck.pk).update(status=OutboxStatus.SENT)
    assert run_checks(["outbox"]) == {"outbox": 0}
    deliver()
    assert Alert.objects.filter(key="outbox").count() == 2
    assert len([m for m in alert_mails() if "[RÉSOLU]" in m.subject]) == 2


def test_a_failing_check_resolves_nothing(receiver, db, settings):
    alerts.raise_alert("outbox", "Des envois sortants (e-mails, webhooks) échouent")
    summary = alerts.check_alerts(checks={"outbox": "tests.trustspace.test_alerts.broken_check"})
    assert summary == {"outbox": None}
    assert Alert.objects.get(key="outbox").resolved_at is None


def broken_check(now):
    raise RuntimeError("check en panne")


@pytest.mark.django_db
def test_broken_audit_chain_alert_then_repaired(receiver, world):
    from tests.trustspace.test_audit import triggers_disabled
    from trustspace.models import AuditEntry
    from trustspace.tasks import verify_audit_chain

    assert verify_audit_chain()["ok"]
    assert not Alert.objects.exists()
    entry = AuditEntry.objects.get(seq=3)
    with triggers_disabled():  # what an attacker with database access would do
        AuditEntry.objects.filter(pk=entry.pk).update(reason="Texte modifié")
        assert verify_audit_chain()["ok"] is False
        assert verify_audit_chain()["ok"] is False  # the next night: still broken, not e-mailed again
        assert Alert.objects.get().severity == "critical"
        AuditEntry.objects.filter(pk=entry.pk).update(reason=entry.reason)  # restored from a backup
        assert verify_audit_chain()["ok"]
    assert_opened_then_resolved(receiver, "audit.chain", "Journal d'audit : chaîne rompue")


@pytest.mark.django_db
def test_gti_breach_alert_until_acknowledged(receiver, world):
    from tests.support.weather import incident, make_drimboxes

    box = make_drimboxes(world.operator, 1)[0]
    opened = timezone.now() - timedelta(days=3)
    late = incident(box, opened)
    incident(make_drimboxes(world.operator, 1)[0], opened, acknowledged_at=opened + timedelta(minutes=5))
    fresh = incident(make_drimboxes(world.operator, 1)[0], timezone.now())  # GTI not due yet
    assert late.gti_due_at < timezone.now() < fresh.gti_due_at
    assert run_checks(["weather.gti"]) == {"weather.gti": 1}
    alert = Alert.objects.get()
    assert alert.key == f"weather.gti:{late.pk}" and alert.severity == "critical"
    assert f"DRIMbox {box.identifiant} (Opérateur A)" in alert.subject
    assert run_checks(["weather.gti"]) == {"weather.gti": 1}
    late.acknowledged_at, late.acknowledged_by = timezone.now(), world.technical
    late.save()
    assert run_checks(["weather.gti"]) == {"weather.gti": 0}
    assert_opened_then_resolved(receiver, f"weather.gti:{late.pk}", "GTI dépassée")


@pytest.mark.django_db
def test_silent_probe_location_alert_until_it_reports(receiver, published, settings):  # noqa: F811
    from weather import services
    from weather.models import ProbeLocation

    settings.WEATHER_PROBE_INTERVAL, settings.ALERT_PROBE_SILENT_INTERVALS = 60, 3
    location = services.first_location("paris")
    ProbeLocation.objects.filter(pk=location.pk).update(last_report_at=timezone.now() - timedelta(seconds=170))
    assert run_checks(["weather.silent"]) == {"weather.silent": 0}  # within 3 intervals
    ProbeLocation.objects.filter(pk=location.pk).update(last_report_at=timezone.now() - timedelta(seconds=200))
    assert run_checks(["weather.silent"]) == {"weather.silent": 1}
    assert Alert.objects.get().key == "weather.silent:paris"
    # A round of the prober (the real write path) ends the silence.
    services.record_observations("paris", [{
        "identifiant": published.identifiant, "checked_at": timezone.now(), "status": "operational", "db_ok": True,
        "db_error": "", "vi_ok": True, "vi_error": "", "latency_ms": 12}])
    assert run_checks(["weather.silent"]) == {"weather.silent": 0}
    assert_opened_then_resolved(receiver, "weather.silent:paris", "Sondes muettes")


@pytest.mark.django_db
def test_no_silence_alert_when_nothing_is_probed(receiver, settings):
    from weather import services
    from weather.models import ProbeLocation

    location = services.first_location("paris")
    ProbeLocation.objects.filter(pk=location.pk).update(last_report_at=None)
    assert run_checks(["weather.silent"]) == {"weather.silent": 0}


@pytest.mark.django_db
def test_signer_expiring_in_ten_days_then_renewed(receiver, world, settings, tmp_path):
    from tests.support.lifecycle import shared_pki
    from tests.whitelist.signing import org_sign_certificate, use_p12_signer
    from whitelist import signer_watch

    settings.WHITELIST_SIGNER_REQUIRE_CRL = False
    soon = org_sign_certificate(shared_pki(), not_after=timezone.now() + dt.timedelta(days=10))
    use_p12_signer(settings, tmp_path / "soon.p12", soon)
    assert run_checks(["whitelist.signer"]) == {"whitelist.signer": 1}
    key = f"whitelist.signer:{signer_watch.fingerprint(soon.cert)}"
    assert Alert.objects.get().key == key
    # The daily watch records its notice for the same certificate: no second e-mail.
    signer_watch.watch_signer()
    deliver()
    assert len([m for m in mail.outbox if "expire dans 15 jours" in m.subject]) == 1
    assert set(alert_mails()[0].to) == {"exploitation@ans.example.fr", world.ans.email}
    renewed = org_sign_certificate(shared_pki(), not_after=timezone.now() + dt.timedelta(days=400))
    use_p12_signer(settings, tmp_path / "renewed.p12", renewed)
    assert run_checks(["whitelist.signer"]) == {"whitelist.signer": 0}
    assert_opened_then_resolved(receiver, key, "expire dans 15 jours")


@pytest.mark.django_db
def test_the_task_runs_every_registered_check_and_is_scheduled(receiver, settings):
    from trustspace.celery import app
    from trustspace.tasks import check_alerts

    settings.ALERT_BEAT_EXPECTED = False
    summary = check_alerts.delay().get()
    assert set(summary) == set(settings.ALERT_CHECKS)
    entry = app.conf.beat_schedule["check-alerts"]
    assert entry["task"] == "trustspace.tasks.check_alerts"
    assert check_alerts.time_limit and check_alerts.soft_time_limit


@pytest.mark.django_db
def test_the_ans_page_lists_alerts_for_ans_only(receiver, world, client):
    alerts.raise_alert("beat", "Le beat Celery ne tourne plus", "Dernier battement il y a 12 min",
                       severity=alerts.CRITICAL)
    alerts.raise_alert("outbox", "Des envois sortants (e-mails, webhooks) échouent")
    alerts.resolve_alert("outbox")
    client.force_login(world.ans)
    page = client.get("/ans/alertes/").content.decode()
    assert "Le beat Celery ne tourne plus" in page and "Dernier battement il y a 12 min" in page
    assert page.index("Le beat Celery") < page.index("Résolues récemment") < page.index("Des envois sortants")
    client.force_login(world.legal)
    assert client.get("/ans/alertes/").status_code == 403


from tests.weather.test_prober import published  # noqa: E402,F401  (fixture: a published whitelist)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_open_one_alert_and_send_one_notice(settings):
    """Two workers running check_alerts at once (PostgreSQL): one open row, one e-mail, one resolution."""
    from tests.support.concurrency import in_parallel

    settings.ADMINS = [("ANS", "exploitation@ans.example.fr")]
    settings.ALERT_WEBHOOK_URL = ""

    results, errors = in_parallel(8, lambda: alerts.raise_alert("race", "Condition concurrente"))
    assert errors == []
    assert Alert.objects.filter(key="race").count() == 1
    assert OutboxMessage.objects.filter(kind="email").count() == 1
    results, errors = in_parallel(8, lambda: alerts.resolve_alert("race"))
    assert errors == [] and sum(result is not None for result in results) == 1
    assert OutboxMessage.objects.filter(kind="email").count() == 2


@pytest.mark.django_db
def test_the_command_alerts_a_stopped_beat_once_without_beat_or_worker(settings):
    """manage.py check_alerts (systemd timer): the « beat stopped » alert needs neither the beat nor a worker; the
    command delivers the notice itself, once, however often it runs (and the beat task alongside it adds nothing)."""
    from io import StringIO

    from django.core.management import call_command

    from trustspace.tasks import check_alerts as beat_task

    settings.ADMINS = [("ANS", "exploitation@ans.example.fr")]
    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_BEAT_MAX_SECONDS = 300
    mail.outbox.clear()
    BeatHeartbeat.objects.create(pk=1, beat_at=timezone.now() - timedelta(minutes=12), holder="host:1")

    def beat_mails():
        return [m for m in alert_mails() if "Le beat Celery ne tourne plus" in m.subject]

    out = StringIO()
    call_command("check_alerts", stdout=out)
    assert [m.to for m in beat_mails()] == [["exploitation@ans.example.fr"]]  # sent by the command, not queued
    assert "[ALERTE critique]" in beat_mails()[0].subject and "beat : 1" in out.getvalue()
    call_command("check_alerts", stdout=StringIO())
    beat_task.apply().get()  # the beat's own task, should it run too
    deliver()
    assert len(beat_mails()) == 1
    assert Alert.objects.filter(key="beat").count() == 1
    assert OutboxMessage.objects.filter(dedup_key__startswith="alert:", status=OutboxStatus.SENT).count() == 1
    BeatHeartbeat.objects.filter(pk=1).update(beat_at=timezone.now())  # the beat is back
    call_command("check_alerts", stdout=StringIO())
    assert [m.subject.split("] ")[1] + "]" for m in alert_mails() if "beat" in m.subject.lower()] == [
        "[ALERTE critique]", "[RÉSOLU]"]


@pytest.mark.django_db
def test_the_command_fails_when_a_check_breaks(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.ALERT_CHECKS = {"cassee": "trustspace.alerts.n_existe_pas"}
    err = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("check_alerts", stdout=StringIO(), stderr=err)
    assert exit_.value.code == 1 and "cassee" in err.getvalue()
