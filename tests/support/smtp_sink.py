"""A tiny real SMTP server on 127.0.0.1 for the tests and the production check: records what it accepts (the
production check counts messages by Message-ID), refuses recipients on demand.

Speaks the part of RFC 5321 Django's SMTP backend uses: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.

``refuse_with`` holds the reply to each RCPT TO (None: accept); set it to ``"451 4.3.0 try later"`` (transient)
or ``"550 5.1.1 unknown user"`` (permanent) to make deliveries fail.
"""
import email
import socketserver
import threading
from contextlib import contextmanager

from tests.support.serving import start_serving, stop_serving


class _Handler(socketserver.StreamRequestHandler):
    # A reply of several lines goes in several sends: without this, each line after the first would wait for the
    # client's delayed acknowledgement (40 ms per EHLO).
    disable_nagle_algorithm = True

    def reply(self, line):
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self):
        sink = self.server.sink
        self.reply("220 sink.test ESMTP")
        recipients = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-sink.test")
                self.reply("250 8BITMIME")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                refusal = sink.refuse_with
                if refusal:
                    sink.refused += 1
                    self.reply(refusal)
                else:
                    recipients.append(command.split(":", 1)[1].strip(" <>"))
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = bytearray()
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or chunk == b".\r\n":
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                sink.record(recipients, bytes(data))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP…
                self.reply("250 OK")


class SmtpSink:
    def __init__(self):
        self.messages = []  # (recipients, email.message.Message), in arrival order
        self.refuse_with = None
        self.refused = 0
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self.port = None

    def start(self):
        """Listen on a free loopback port (``self.port``) in a thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = start_serving(self._server)
        return self

    def stop(self):
        stop_serving(self._server, self._thread)

    def record(self, recipients, data):
        with self._lock:
            self.messages.append((recipients, email.message_from_bytes(data)))

    def message_ids(self):
        with self._lock:
            return [str(message["Message-ID"] or "") for _recipients, message in self.messages]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def running_smtp_sink():
    """Yields (sink, port)."""
    sink = SmtpSink().start()
    try:
        yield sink, sink.port
    finally:
        sink.stop()
