"""TLS connections for the prober: a non-blocking ``ssl.SSLSocket`` driven by the running event loop.

``asyncio.open_connection(ssl=...)`` builds, for every connection, a socket transport, an SSL protocol with two
memory BIOs copying every record through Python, a stream reader, its protocol and a writer, and decodes the peer
certificate into a dict nobody reads. A probe needs a handshake, one short request and the first line of the answer:
here OpenSSL reads and writes the socket itself, and the coroutine only waits on the event loop when OpenSSL asks
for it (``SSLWantReadError`` / ``SSLWantWriteError``). Errors are the ones asyncio raises (``ssl.SSLError`` and its
subclasses, ``ConnectionRefusedError``, ``socket.gaierror``, ``OSError``), so the prober classifies them the same way.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

STATUS_LINE_LIMIT = 64 * 1024  # what asyncio's stream reader accepted for one line
_RECEIVE_SIZE = 4096


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _addresses(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[tuple[int, Any]]:
    """[(family, address)] to try in order: an IP literal as is, a name through the resolver (like asyncio)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, (host, port))]
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(family, address) for family, _type, _proto, _name, address in infos]


class TlsConnection:
    """One TLS connection; ``close()`` it (no close_notify: a probe needs no graceful close).

    The socket stays registered for reading from the handshake to ``close()``: a wait costs a future, not two
    ``epoll_ctl`` calls and the selector's bookkeeping. Readiness while nothing waits is ignored (the coroutine
    never yields between an OpenSSL call that left data unread and its next call)."""

    __slots__ = ("tls", "_loop", "_fd", "_reader")

    def __init__(self, tls: ssl.SSLSocket, loop: asyncio.AbstractEventLoop) -> None:
        self.tls = tls
        self._loop = loop
        self._fd = tls.fileno()
        self._reader: asyncio.Future[None] | None = None
        loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        if self._reader is not None:
            _wake(self._reader)

    async def _wait(self, writable: bool) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()
        if writable:
            self._loop.add_writer(self._fd, _wake, waiter)
            try:
                await waiter
            finally:
                self._loop.remove_writer(self._fd)
        else:
            self._reader = waiter
            try:
                await waiter
            finally:
                self._reader = None

    async def _until_done(self, operation: Callable[..., Any], *args: Any) -> Any:
        """``operation(*args)`` retried each time OpenSSL needs the socket readable or writable first."""
        while True:
            try:
                return operation(*args)
            except ssl.SSLWantReadError:
                await self._wait(writable=False)
            except ssl.SSLWantWriteError:
                await self._wait(writable=True)

    async def send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[await self._until_done(self.tls.send, view):]

    async def status_line(self, request: bytes) -> bytes:
        """Send ``request``, then read the answer's first line (with its line end), or what came before the server
        closed; ``ValueError`` past ``STATUS_LINE_LIMIT`` bytes without a line end."""
        await self.send_all(request)
        received = b""
        while True:
            end = received.find(b"\n")
            if end >= 0:
                return received[: end + 1]
            if len(received) > STATUS_LINE_LIMIT:
                raise ValueError("status line too long")
            chunk = await self._until_done(self.tls.recv, _RECEIVE_SIZE)
            if not chunk:  # closed (close_notify or a bare TCP close)
                return received
            received += chunk

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            self._fd = -1
        self.tls.close()


async def _connect_tcp(loop: asyncio.AbstractEventLoop, family: int, address: Any) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the request must not wait for an ACK
        try:
            sock.connect(address)
        except BlockingIOError:
            waiter: asyncio.Future[None] = loop.create_future()
            loop.add_writer(sock.fileno(), _wake, waiter)
            try:
                await waiter
            finally:
                loop.remove_writer(sock.fileno())
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, f"Connect call failed {address}") from None  # errno picks the subclass
        return sock
    except BaseException:
        sock.close()
        raise


async def open_tls(host: str, port: int, context: ssl.SSLContext, server_hostname: str) -> TlsConnection:
    """A TCP connection to ``host:port`` (each address in turn, as asyncio does) and a completed TLS handshake."""
    loop = asyncio.get_running_loop()
    errors: list[OSError] = []
    for family, address in await _addresses(loop, host, port):
        try:
            sock = await _connect_tcp(loop, family, address)
            break
        except OSError as exc:
            errors.append(exc)
    else:
        raise errors[0] if errors else OSError(f"no address for {host}")
    try:
        tls = context.wrap_socket(sock, server_hostname=server_hostname, do_handshake_on_connect=False)
    except BaseException:
        sock.close()
        raise
    try:
        connection = TlsConnection(tls, loop)
    except BaseException:
        tls.close()
        raise
    try:
        await connection._until_done(tls.do_handshake)
    except BaseException:
        connection.close()
        raise
    return connection
