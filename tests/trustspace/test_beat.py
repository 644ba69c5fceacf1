"""Exactly one beat: two real ``celery beat`` processes share the beat lock; only the holder sends, and after a
``kill -9`` of the holder the other takes over. Sent messages are counted in the broker (kombu's filesystem
transport: one file per message), each naming the beat that sent it."""
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.support.processes import _die_with_parent
from trustspace import beat
from trustspace.beat import FileLock, heartbeat_age, write_heartbeat
from trustspace.models import BeatHeartbeat

ROOT = Path(__file__).resolve().parents[2]
POLLS = 600  # checks 0.1 s apart: a generous wait for the beat processes, never an assertion about speed


def wait_for(condition, what):
    for _poll in range(POLLS):
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"{what}: not seen after {POLLS} checks")


def database_url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def sent_by(var_dir):
    """Messages in the filesystem broker's queue, counted by the beat named in their arguments."""
    counts = {}
    for path in (var_dir / "celery" / "queue").glob("*.msg"):
        try:
            message = json.loads(path.read_text())
            args = json.loads(base64.b64decode(message["body"]))[0]
        except (ValueError, KeyError, OSError):
            continue  # a file being written
        counts[args[0]] = counts.get(args[0], 0) + 1
    return counts


def start_beat(name, var_dir, tmp_path, *, embedded=False, database_url=None):
    """``celery beat``, or with ``embedded`` a worker with its beat (``worker --beat``, as scripts/run starts it)."""
    env = {**os.environ, "DATABASE_URL": database_url or "", "REDIS_URL": "", "VAR_DIR": str(var_dir),
           "DJANGO_SETTINGS_MODULE": "trustspace.settings", "BEAT_TEST_NAME": name, "BEAT_TEST_INTERVAL": "0.3",
           "BEAT_LOCK": "postgresql" if database_url else "file", "BEAT_LOCK_RETRY_SECONDS": "0.2",
           "BEAT_HEARTBEAT_SECONDS": "1"}
    log = tmp_path / f"{name}.log"
    command = (["worker", "--beat", "--pool=solo", "-Q", "celery"] if embedded else ["beat"])
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.trustspace.beat_app", *command, "--loglevel=INFO",
         f"--schedule={tmp_path / name}-schedule"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent)  # noqa: PLW1509
    return process, log


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped by its new parent) counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_beats_only_one_sends_and_the_other_takes_over_after_kill_9(tmp_path):
    var_dir = tmp_path / "var"
    first, first_log = start_beat("first", var_dir, tmp_path, database_url=database_url())
    second = None
    try:
        wait_for(lambda: sent_by(var_dir).get("first", 0) >= 3, "the first beat to send")
        holder = BeatHeartbeat.objects.get(pk=1).holder
        assert holder.endswith(f":{first.pid}")
        second, second_log = start_beat("second", var_dir, tmp_path, database_url=database_url())
        wait_for(lambda: "another beat holds the beat lock" in second_log.read_text(), "the second beat to wait")
        before = sent_by(var_dir).get("first", 0)
        wait_for(lambda: sent_by(var_dir).get("first", 0) >= before + 5, "the first beat to keep sending")
        assert sent_by(var_dir).get("second", 0) == 0, "two beats sent"
        assert second.poll() is None

        first.send_signal(signal.SIGKILL)
        first.wait()
        sent_by_first = sent_by(var_dir).get("first", 0)
        wait_for(lambda: sent_by(var_dir).get("second", 0) >= 3, "the second beat to take over")
        assert "holding the beat lock" in second_log.read_text()
        assert sent_by(var_dir).get("first", 0) == sent_by_first
        wait_for(lambda: BeatHeartbeat.objects.get(pk=1).holder.endswith(f":{second.pid}"), "the second's heartbeat")
        assert heartbeat_age() is not None
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_a_worker_s_embedded_beat_stops_with_its_worker_and_the_next_takes_over(tmp_path):
    """scripts/run's shape: ``worker --beat`` on SQLite (file lock). After ``kill -9`` of the worker its orphaned beat
    stops instead of sending on its own; a new worker's beat then holds the lock and sends."""
    var_dir = tmp_path / "var"
    first, _log = start_beat("first", var_dir, tmp_path, embedded=True)
    second = None
    orphans = []
    try:
        wait_for(lambda: sent_by(var_dir).get("first", 0) >= 3, "the first worker's beat to send")
        orphans = children(first.pid)
        assert orphans, "worker --beat runs its beat in a child process"
        first.send_signal(signal.SIGKILL)
        first.wait()
        wait_for(lambda: not any(alive(pid) for pid in orphans), "the orphaned beat to stop")
        sent_by_first = sent_by(var_dir).get("first", 0)
        second, second_log = start_beat("second", var_dir, tmp_path, embedded=True)
        wait_for(lambda: sent_by(var_dir).get("second", 0) >= 3, "the new worker's beat to send")
        assert sent_by(var_dir).get("first", 0) == sent_by_first
        assert "holding the beat lock (verrou de fichier)" in second_log.read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        for pid in orphans:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_file_lock_is_held_once_and_freed_with_its_holder(tmp_path):
    path = tmp_path / "beat.lock"
    holder, other = FileLock(path), FileLock(path)
    assert holder.acquire() and holder.acquire()  # re-entrant for its holder
    assert not other.acquire()
    holder.release()
    assert other.acquire()
    other.release()
    # A process killed while holding it frees it too.
    code = ("import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert not other.acquire()
        child.kill()
        child.wait()
        assert other.acquire()
    finally:
        other.release()
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.django_db
def test_heartbeat_age(settings):
    assert heartbeat_age() is None
    write_heartbeat("host:1")
    age = heartbeat_age()
    assert age is not None and age.total_seconds() >= 0
    BeatHeartbeat.objects.filter(pk=1).update(beat_at=BeatHeartbeat.objects.get(pk=1).beat_at - beat.timedelta(hours=1))
    assert heartbeat_age() >= beat.timedelta(minutes=59)
