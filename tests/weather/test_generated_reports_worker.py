"""A large PERF report laid out by a real Celery worker through Redis (REDIS_URL): the request commits the run and its
outbox row, the worker delivers the outbox and then lays the report out; the person's page then offers the file."""
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.urls import reverse

from tests.conftest import require_or_skip
from tests.weather.test_generated_reports import (  # noqa: F401 - default_policy: a fixture
    MARCH,
    assert_tagged_report,
    default_policy,
    generated_pk,
)
from tests.weather.test_reports import boxes  # noqa: F401 - the fixture of the reports' tests
from trustspace.celery import app
from weather.models import GeneratedReport, GeneratedReportStatus

POLLS = 600  # every 0.1 s: one minute at most for a three-row report on a loaded machine


@pytest.mark.usefixtures("default_policy", "boxes")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_lays_out_the_report_through_redis(world, settings, client):
    require_or_skip(django_settings.REDIS_URL, "REDIS_URL is not set (Redis broker test)")
    settings.PERF_PDF_SYNC_MAX_ROWS = 2
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert not app.conf.task_always_eager  # the outbox kick and the task go through Redis to the worker
    client.force_login(world.ans)
    # The outbox on the default queue, the layout on its own (CELERY_TASK_ROUTES), as in production.
    queues = ["celery", django_settings.PERF_REPORT_QUEUE]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=queues):
        pk = generated_pk(client.get(reverse("ans_perf_download", kwargs={"fmt": "pdf"}), MARCH))
        for _ in range(POLLS):
            status = GeneratedReport.objects.values_list("status", flat=True).get(pk=pk)
            if status in (GeneratedReportStatus.READY, GeneratedReportStatus.FAILED):
                break
            time.sleep(0.1)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    generated = GeneratedReport.objects.get(pk=pk)
    assert generated.status == GeneratedReportStatus.READY, generated.error
    page = client.get(reverse("ans_perf_generated", kwargs={"pk": pk})).content.decode()
    assert "<h1>Rapport prêt</h1>" in page
    response = client.get(reverse("ans_perf_generated_file", kwargs={"pk": pk}))
    assert_tagged_report(b"".join(response.streaming_content), ["101", "102", "201"], "toutes les DRIMbox")
