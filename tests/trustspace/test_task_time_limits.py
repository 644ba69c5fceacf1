"""Every Celery task of our apps has a finite hard and soft time limit (project defaults or a larger explicit one)."""
import math

from trustspace.celery import app

OUR_APPS = ("trustspace.", "operators.", "certificates.", "whitelist.", "weather.")


def our_tasks():
    app.loader.import_default_modules()  # autodiscovery: every app's tasks module
    import whitelist.signer_watch  # noqa: F401  (a task outside a tasks module)

    return {name: task for name, task in app.tasks.items() if name.startswith(OUR_APPS)}


def effective(task, option):
    return getattr(task, option, None) or getattr(app.conf, f"task_{option}")


def test_every_task_of_our_apps_has_finite_time_limits():
    tasks = our_tasks()
    assert len(tasks) >= 20  # the list really came from the apps
    unlimited = []
    for name, task in sorted(tasks.items()):
        hard, soft = effective(task, "time_limit"), effective(task, "soft_time_limit")
        if not (hard and soft and math.isfinite(hard) and math.isfinite(soft) and 0 < soft < hard):
            unlimited.append((name, hard, soft))
    assert unlimited == []


def test_long_tasks_get_a_larger_limit_than_the_default(settings):
    tasks = our_tasks()
    for name in ("certificates.tasks.process_vi_orders", "weather.tasks.probe_batch",
                 "trustspace.tasks.verify_audit_chain"):
        assert tasks[name].time_limit == settings.CELERY_TASK_LONG_TIME_LIMIT > settings.CELERY_TASK_TIME_LIMIT
    assert effective(tasks["operators.tasks.expire_invitations"], "time_limit") == settings.CELERY_TASK_TIME_LIMIT
    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
