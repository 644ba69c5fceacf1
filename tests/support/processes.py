"""Real servers the tests start (BIND 9, Pebble): launched, waited for, always stopped.

A server dies with the test process (Linux ``PR_SET_PDEATHSIG``) and is stopped at interpreter exit,
so none outlives a run, even a killed one.
"""
import atexit
import ctypes
import signal
import subprocess
import sys
import time

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

_running = set()


def _die_with_parent():
    """In the child: get SIGTERM if the test process dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ServerProcess:
    """One process of a server, its output appended to ``log_path``."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.process = None

    def launch(self, command, *, ready, cwd, env=None, start_timeout=START_TIMEOUT):
        """Start ``command``; (True, "") once ``ready()`` answers, else (False, what it printed) after stopping it."""
        with open(self.log_path, "ab") as log:
            log_start = log.tell()
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=cwd, env=env,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
        _running.add(self)
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if ready():
                return True, ""
            time.sleep(0.05)
        self.terminate()
        return False, self.log_path.read_bytes()[log_start:].decode(errors="replace")

    def terminate(self):
        process, self.process = self.process, None
        _running.discard(self)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None


@atexit.register
def _stop_all():
    for server in list(_running):
        server.terminate()
