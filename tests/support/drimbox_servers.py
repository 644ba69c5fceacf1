"""Real loopback HTTPS servers that act as DRIMboxes for the weather prober.

    with running_farm(tmp_path) as farm:
        db = farm.add_db("db1.test.mesimagesmedicales.fr", issued_db, client_ca_pem)   # mutual TLS
        vi = farm.add_vi("vi1.test.mesimagesmedicales.fr", issued_vi)                   # public HTTPS
        settings.WEATHER_PROBE_RESOLVE = farm.resolve()      # {"db1…": "127.0.0.1:<port>", …}
        db.stop()   # connection refused from now on
        db.start()  # listening again, on the same port
        db.mode = "hang"   # TLS handshake done, never answers HTTP (timeouts)
        db.mode = "error"  # answers « HTTP/1.1 503 »

A `db` server presents its certificate chain and *requires* a client certificate chaining to
``client_ca_pem`` (``ssl.CERT_REQUIRED``); a `vi` server presents its chain and asks for nothing. Every
server answers any request with a bodiless HTTP response and closes. All servers of a farm share one
asyncio event loop in one daemon thread of the test process; ``serve_main`` runs the same servers in a
separate process (benchmarks), reading a JSON description and writing the ports it bound.
Only 127.0.0.1; ports chosen by the kernel.
"""
from __future__ import annotations

import asyncio
import json
import ssl
import sys
import threading
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["DrimboxFarm", "running_farm", "write_pem_pair", "serve_main"]

HOST = "127.0.0.1"
READ_TIMEOUT = 5.0


def write_pem_pair(directory, name, issued):
    """Write ``issued`` (``tests.support.pki.Issued``) as <name>.pem (leaf + chain) and <name>-key.pem."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert.write_bytes(issued.chain_pem)
    key.write_bytes(issued.key_pem)
    return str(cert), str(key)


def server_context(cert_path, key_path, client_ca_pem=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    if client_ca_pem is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=client_ca_pem.decode() if isinstance(client_ca_pem, bytes)
                                      else client_ca_pem)
    return context


class LoopbackServer:
    """One HTTPS server; ``start``/``stop`` are called from any thread."""

    def __init__(self, farm, name, context, port=0):
        self.farm = farm
        self.name = name
        self.context = context
        self.port = port
        self.mode = "ok"  # ok | hang | error
        self.requests = 0
        self._server = None

    async def _handle(self, reader, writer):
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            self.requests += 1
            if self.mode == "hang":
                await asyncio.sleep(READ_TIMEOUT)
                return
            status = "503 Service Unavailable" if self.mode == "error" else "200 OK"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass  # a client that went away (or was refused by the TLS layer) is not the server's problem
        finally:
            writer.transport.abort()

    async def _start(self):
        self._server = await asyncio.start_server(self._handle, HOST, self.port, ssl=self.context,
                                                  reuse_address=True, backlog=1024, ssl_handshake_timeout=READ_TIMEOUT)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self):
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def start(self):
        if self._server is None:
            self.farm.call(self._start())
        return self

    def stop(self):
        self.farm.call(self._stop())
        return self

    @property
    def address(self):
        return f"{HOST}:{self.port}"


class DrimboxFarm:
    """Servers sharing one event loop thread; ``resolve()`` is the prober's ``WEATHER_PROBE_RESOLVE``."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.servers: dict[str, LoopbackServer] = {}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="drimbox-farm", daemon=True)
        self._thread.start()

    def call(self, coroutine, timeout=10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def add(self, name, issued, *, client_ca_pem=None, start=True):
        cert, key = write_pem_pair(self.directory, name, issued)
        server = LoopbackServer(self, name, server_context(cert, key, client_ca_pem))
        self.servers[name] = server
        return server.start() if start else server

    def add_db(self, name, issued, client_ca_pem, **kwargs):
        return self.add(name, issued, client_ca_pem=client_ca_pem, **kwargs)

    def add_vi(self, name, issued, **kwargs):
        return self.add(name, issued, **kwargs)

    async def _cancel_pending(self):
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def resolve(self):
        return {name: server.address for name, server in self.servers.items()}

    def close(self):
        for server in self.servers.values():
            with suppress(Exception):  # best effort at teardown
                server.stop()
        with suppress(Exception):
            self.call(self._cancel_pending())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@contextmanager
def running_farm(directory):
    farm = DrimboxFarm(directory)
    try:
        yield farm
    finally:
        farm.close()


# --- separate process (benchmarks) -----------------------------------------------------------------------------


async def _serve(description, ports_path):
    client_ca = description.get("client_ca_pem")
    contexts = {}
    servers = []
    for spec in description["servers"]:
        key = (spec["cert"], spec["key"], spec.get("mutual", False))
        if key not in contexts:  # servers sharing a certificate share one SSL context
            contexts[key] = server_context(spec["cert"], spec["key"], client_ca if spec.get("mutual") else None)
        server = LoopbackServer(None, spec["name"], contexts[key])
        await server._start()
        servers.append(server)
    Path(ports_path).write_text(json.dumps({s.name: s.port for s in servers}))
    await asyncio.Event().wait()  # until terminated


def serve_main(argv=None):
    """``python -m tests.support.drimbox_servers DESCRIPTION.json PORTS.json``: serve until SIGTERM.

    DESCRIPTION: {"client_ca_pem": "...", "servers": [{"name", "cert", "key", "mutual"}]}.
    """
    argv = argv if argv is not None else sys.argv[1:]
    description = json.loads(Path(argv[0]).read_text())
    asyncio.run(_serve(description, argv[1]))


if __name__ == "__main__":
    serve_main()
