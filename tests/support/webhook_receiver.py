"""A real HTTP webhook receiver on 127.0.0.1 for tests: records each POST, answers the status it is told.

``statuses`` is a list of status codes answered in turn (then ``default_status``). ``hold`` (an Event) makes
each request wait until it is set — a sender killed meanwhile never gets its answer. ``running_receiver`` checks
each delivery's HMAC signature itself (the alert and operator-channel tests).
"""
import hashlib
import hmac
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.serving import serving, start_serving, stop_serving


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver.record(dict(self.headers), body)
        if receiver.hold is not None:
            receiver.hold.wait(30)
        status = receiver.next_status()
        try:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass  # the sender is gone


class WebhookReceiver:
    def __init__(self):
        self.requests = []  # (headers, body)
        self.statuses = []
        self.default_status = 200
        self.hold = None
        self.received = threading.Event()
        self._lock = threading.Lock()

    def record(self, headers, body):
        with self._lock:
            self.requests.append((headers, body))
        self.received.set()

    def next_status(self):
        with self._lock:
            return self.statuses.pop(0) if self.statuses else self.default_status

    def deliveries(self):
        with self._lock:
            return [headers.get("X-DRIMM-Delivery") for headers, _body in self.requests]


@contextmanager
def running_webhook_receiver():
    """Yields (receiver, url)."""
    receiver = WebhookReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.receiver = receiver
    thread = start_serving(server)
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        stop_serving(server, thread)


@contextmanager
def running_receiver(secret_of_path):
    """Yields (base URL, received list). ``secret_of_path(path)`` → the secret expected for that path. Each
    received item: path, headers, event (parsed JSON) and ``valid`` (HMAC and headers checked here)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            timestamp = self.headers.get("X-DRIMM-Timestamp", "")
            secret = secret_of_path(self.path) or ""
            expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                                            hashlib.sha256).hexdigest()
            valid = bool(secret) and hmac.compare_digest(expected, self.headers.get("X-DRIMM-Signature", ""))
            received.append({"path": self.path, "headers": dict(self.headers), "event": json.loads(body),
                             "valid": valid})
            self.send_response(204 if valid else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}", received
