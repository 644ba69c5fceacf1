"""A loopback eSignSanté for tests: ``POST {base}/signatures/xadesbaselineb`` as its public OpenAPI defines it.

    with running_esignsante(signer=issued, secret="s3cret", api_key="k") as server:
        settings.WHITELIST_ESIGNSANTE_URL = server.base_url     # http://127.0.0.1:<port>/esignsante/v1
        server.mode = "ok"        # or "error500", "unavailable", "garbage", "bad_base64", "no_document",
                                  # "erreurs", "altered", "extra_entry", "oversized" (oversized_bytes)
        server.requests           # what the portal sent: fields (dict name → bytes), headers

It plays the service's role: checks the multipart fields (``file``, integer ``idSignConf`` among its
configurations, ``secret`` when it has one → 400/404/401 as documented; the API key header when set →
401), signs ``file`` with ``whitelist.xades.sign`` and the given ``Issued`` signer (key, cert, chain) and
answers ``{"erreurs": [], "docSigne": "<base64>"}``. Only 127.0.0.1, a kernel-chosen port, a daemon thread.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
from contextlib import contextmanager, suppress
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.serving import start_serving, stop_serving
from whitelist import xades

__all__ = ["EsignsanteServer", "running_esignsante"]

BASE_PATH = "/esignsante/v1"
SIGN_PATH = BASE_PATH + "/signatures/xadesbaselineb"
SECRET_PATTERN = re.compile(r"^[a-zA-Z_0-9\-]*$")


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise ValueError("not multipart")
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True) or b""
    return fields


class _Handler(BaseHTTPRequestHandler):
    server_version = "eSignSante-test/2.5"

    def _answer(self, status: int, body: bytes, content_type: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):  # the client stopped reading (an oversized answer)
            self.wfile.write(body)

    def _json(self, status: int, payload):
        self._answer(status, json.dumps(payload).encode())

    def do_POST(self):  # http.server calls do_<METHOD>
        owner = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            fields = parse_multipart(self.headers.get("Content-Type", ""), body)
        except (ValueError, TypeError):
            fields = None
        with owner.lock:
            owner.requests.append({"path": self.path, "headers": dict(self.headers), "fields": fields or {}})
            mode = owner.mode
        if self.path != SIGN_PATH:
            return self._answer(404, b"", "text/plain")
        if owner.api_key and self.headers.get(owner.api_key_header) != owner.api_key:
            return self._answer(401, b"", "text/plain")
        if not fields or "file" not in fields or "idSignConf" not in fields:
            return self._answer(400, b"", "text/plain")
        try:
            conf = int(fields["idSignConf"])
        except ValueError:
            return self._answer(400, b"", "text/plain")
        if conf not in owner.sign_confs:
            return self._answer(404, b"", "text/plain")
        secret = fields.get("secret", b"").decode("utf-8", "replace")
        if not SECRET_PATTERN.match(secret):
            return self._answer(400, b"", "text/plain")
        if owner.secret and secret != owner.secret:
            return self._answer(401, b"", "text/plain")
        if mode == "error500":
            return self._answer(500, b'{"timestamp":"now","status":500,"error":"Internal Server Error"}')
        if mode == "unavailable":
            return self._answer(503, b"", "text/plain")
        if mode == "oversized":  # a well-formed start, then far more bytes than any list (streamed)
            return self._answer(200, b'{"erreurs": [], "docSigne": "' + b"A" * owner.oversized_bytes + b'"}')
        if mode == "garbage":
            return self._answer(200, b"<html>proxy error</html>", "text/html")
        if mode == "no_document":
            return self._json(200, {"erreurs": []})
        if mode == "bad_base64":
            return self._json(200, {"erreurs": [], "docSigne": "pas du base64 !"})
        if mode == "erreurs":
            return self._json(200, {"erreurs": [{"codeErreur": "ERSIGN05", "message": "Le certificat est expiré."}],
                                    "docSigne": ""})
        document = fields["file"]
        if mode == "altered":  # a validly signed list whose entries the service changed
            document = document.replace("Opérateur".encode(), b"Usurpateur", 1)
        if mode == "extra_entry":
            document = document.replace(b"</ListeDomaines>", b"<Domaine><Identifiant>999</Identifiant>"
                                        b"</Domaine></ListeDomaines>", 1)
        try:
            signed = xades.sign(document, owner.signer.key, owner.signer.cert, owner.signer.chain,
                                signing_time=dt.datetime.now(dt.UTC))
        except xades.SigningError as exc:
            return self._json(501, {"erreurs": [{"codeErreur": "ERSIGN00", "message": str(exc)}], "docSigne": ""})
        self._json(200, {"erreurs": [], "docSigne": base64.b64encode(signed).decode("ascii")})

    def log_message(self, format, *args):
        """Quiet: the tests' output is not the place for access logs."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class EsignsanteServer:
    host = "127.0.0.1"

    def __init__(self, *, signer, secret: str = "", api_key: str = "", api_key_header: str = "ESANTE-API-KEY",
                 sign_confs=(1,)):
        self.signer = signer
        self.secret, self.api_key, self.api_key_header = secret, api_key, api_key_header
        self.sign_confs = set(sign_confs)
        self.mode = "ok"
        self.oversized_bytes = 4 * 1024 * 1024
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self._httpd = None
        self._thread = None
        self.port = None

    def start(self):
        httpd = _Server((self.host, 0), _Handler)
        httpd.owner = self
        self._httpd, self.port = httpd, httpd.server_address[1]
        self._thread = start_serving(httpd, name=f"esignsante-{self.port}")
        return self

    def stop(self):
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        stop_serving(httpd, self._thread)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{BASE_PATH}"


@contextmanager
def running_esignsante(**kwargs):
    server = EsignsanteServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()
