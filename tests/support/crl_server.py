"""A loopback HTTP server for CRLs: set the bytes (or an HTTP error) served at each path, stop it to make
the CRL unreachable.

    with running_crl_server() as server:
        server.set_crl("/igc.crl", pki.crl(revoked=[cert]))   # a CRL object, DER or PEM bytes
        url = server.url("/igc.crl")                           # http://127.0.0.1:<port>/igc.crl
        server.set_error("/igc.crl", 500)                      # or 404…
        server.stop()                                          # connection refused from now on

A POST to a path answers the bytes set there too (``set_crl(path, ocsp_response_der)``): an OCSP responder.

Only 127.0.0.1, a free port chosen by the kernel, one daemon thread; the context manager always shuts the
server down and closes its socket (``stop()`` is idempotent). ``requests_for(path)`` counts the GETs.
"""
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.serving import start_serving, stop_serving

__all__ = ["CrlServer", "running_crl_server"]


class _Handler(BaseHTTPRequestHandler):
    server_version = "TestCRL/1.0"

    def do_GET(self):  # http.server calls do_<METHOD>
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        with owner._lock:
            owner._hits[path] = owner._hits.get(path, 0) + 1
            status, body = owner._routes.get(path, (404, b"not found\n"))
        self.send_response(status)
        self.send_header("Content-Type", "application/pkix-crl" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # an OCSP responder (RFC 6960 over HTTP POST): the bytes set for the path, whatever the request
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(length, 65536))
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        with owner._lock:
            owner._hits[path] = owner._hits.get(path, 0) + 1
            status, body = owner._routes.get(path, (404, b"not found\n"))
        self.send_response(status)
        self.send_header("Content-Type", "application/ocsp-response" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # keep the test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class CrlServer:
    """The server: ``url(path)``, ``set_crl``, ``set_error``, ``clear``, ``stop``."""

    host = "127.0.0.1"

    def __init__(self):
        self._lock = threading.Lock()
        self._routes = {}
        self._hits = {}
        self._httpd = None
        self._thread = None
        self.port = None

    # ---------------------------------------------------------------- life cycle

    def start(self):
        if self._httpd is not None:
            raise RuntimeError("the CRL server is already running")
        httpd = _Server((self.host, self.port or 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = start_serving(httpd, name=f"crl-server-{self.port}")
        return self

    def stop(self):
        """Shut down and close the socket: the URLs refuse connections afterwards."""
        httpd, self._httpd = self._httpd, None
        thread, self._thread = self._thread, None
        if httpd is None:
            return
        stop_serving(httpd, thread)

    @property
    def running(self):
        return self._httpd is not None

    # ---------------------------------------------------------------- content

    def url(self, path="/crl.crl"):
        if self.port is None:
            raise RuntimeError("start the CRL server first")
        return f"http://{self.host}:{self.port}{_path(path)}"

    def set_crl(self, path, crl):
        """Serve ``crl`` (a cryptography CRL, written as DER, or raw bytes) at ``path`` with status 200."""
        body = crl.public_bytes(Encoding.DER) if hasattr(crl, "public_bytes") else bytes(crl)
        with self._lock:
            self._routes[_path(path)] = (200, body)

    def set_error(self, path, status=500, body=b"error\n"):
        """Answer ``status`` (404, 500…) at ``path``."""
        with self._lock:
            self._routes[_path(path)] = (int(status), bytes(body))

    def clear(self, path=None):
        """Forget ``path`` (404 from now on), or every path."""
        with self._lock:
            if path is None:
                self._routes.clear()
            else:
                self._routes.pop(_path(path), None)

    def requests_for(self, path):
        with self._lock:
            return self._hits.get(_path(path), 0)


def _path(path):
    return path if path.startswith("/") else "/" + path


@contextmanager
def running_crl_server():
    """A started CrlServer, always stopped at exit."""
    server = CrlServer().start()
    try:
        yield server
    finally:
        server.stop()
