"""Structured logs: the real LOGGING handler's output, for a request (in-process) and a Celery worker (a process)."""
import copy
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from trustspace.celery import app

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_output(settings):
    """Apply settings.LOGGING in the given format with its console handler writing to a buffer; restore after."""
    buffers = []

    def configure(log_format):
        config = copy.deepcopy(settings.LOGGING)
        config["handlers"]["console"]["formatter"] = log_format
        logging.config.dictConfig(config)
        buffer = io.StringIO()
        handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)
                       and not type(h).__module__.startswith("_pytest"))
        handler.setStream(buffer)
        buffers.append(buffer)
        return buffer

    yield configure
    logging.config.dictConfig(settings.LOGGING)


def json_lines(buffer):
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_request_log_line_carries_the_incoming_request_id(client, log_output):
    buffer = log_output("json")
    response = client.get("/page-qui-n-existe-pas/", HTTP_X_REQUEST_ID="nginx-req.42")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "nginx-req.42"
    lines = [line for line in json_lines(buffer) if line["logger"] == "django.request"]
    assert lines, buffer.getvalue()
    assert lines[-1]["request_id"] == "nginx-req.42"
    assert lines[-1]["level"] == "WARNING" and "page-qui-n-existe-pas" in lines[-1]["message"]
    assert "task_id" not in lines[-1]
    assert lines[-1]["time"].endswith("+00:00")  # ISO 8601, UTC


@pytest.mark.django_db
def test_a_malformed_request_id_is_replaced_and_forgotten_after_the_request(client, log_output):
    buffer = log_output("json")
    response = client.get("/page-absente/", HTTP_X_REQUEST_ID="bad id\r\n<script>")
    generated = response["X-Request-ID"]
    assert generated != "bad id\r\n<script>" and len(generated) == 32 and generated.isalnum()
    logging.getLogger("tests.after").warning("after the request")
    lines = json_lines(buffer)
    request_line = next(line for line in lines if line["logger"] == "django.request")
    assert request_line["request_id"] == generated
    after = next(line for line in lines if line["logger"] == "tests.after")
    assert "request_id" not in after


@pytest.mark.django_db
def test_plain_format_in_development(client, log_output):
    buffer = log_output("plain")
    client.get("/autre-page-absente/", HTTP_X_REQUEST_ID="plain-id-1")
    line = next(line for line in buffer.getvalue().splitlines() if "autre-page-absente" in line)
    assert "[plain-id-1]" in line and "WARNING django.request" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_development_defaults_to_plain_and_production_to_json():
    for debug, expected in (("1", "plain"), ("0", "json")):
        env = {**os.environ, "DEBUG": debug, "SECRET_KEY": "x" * 50, "AUDIT_HMAC_KEYS": "k:" + "A" * 44}
        env.pop("LOG_FORMAT", None)
        out = subprocess.run([sys.executable, "-c", "from django.conf import settings; print(settings.LOG_FORMAT)"],
                             cwd=BASE_DIR, env={**env, "DJANGO_SETTINGS_MODULE": "trustspace.settings"},
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip().splitlines()[-1] == expected, out.stderr


def test_a_celery_worker_logs_json_lines_with_the_task(tmp_path):
    """A real worker process (solo pool) runs a task that logs: its line names the task; Celery's own lines are JSON."""
    queue = f"test-logs-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "LOG_FORMAT": "json", "VAR_DIR": str(settings.VAR_DIR), "CELERY_TASK_ALWAYS_EAGER": "0",
           "PYTHONWARNINGS": "ignore"}  # Python warnings (running as root…) are not log lines
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "trustspace", "-q", "worker", "-P", "solo", "-Q", queue,
             "--include", "tests.trustspace.log_tasks", "-l", "INFO", "--without-heartbeat", "--without-mingle",
             "--without-gossip"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        marker = uuid.uuid4().hex
        with pytest.warns(Warning):  # the test settings make tasks eager; send_task always publishes
            result = app.send_task("tests.log_marker", args=[marker], queue=queue)
        line = None
        for _poll in range(300):  # checks 0.2 s apart while the worker starts and runs the task
            if worker.poll() is not None or line is not None:
                break
            time.sleep(0.2)
            line = next((json.loads(text) for text in log_path.read_text().splitlines()
                         if marker in text and text.startswith("{") and "marker " in text), None)
        assert line is not None, log_path.read_text()
        output = [text for text in log_path.read_text().splitlines() if text.strip()]  # before the shutdown message
    finally:
        worker.terminate()
        worker.wait(20)
    assert line["task_id"] == result.id
    assert line["task_name"] == "tests.log_marker"
    assert line["logger"] == "tests.log_tasks" and line["level"] == "WARNING"
    assert "request_id" not in line
    celery_lines = [json.loads(text) for text in output if text.startswith("{")]
    assert any(entry["logger"].startswith("celery") for entry in celery_lines), output
    assert all(text.startswith("{") for text in output), output  # nothing in Celery's own text format
