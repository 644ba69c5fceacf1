"""Loopback servers that tests run in a thread of their own process (fake GitHub, SMTP sink, CRL server…)."""
import threading
from contextlib import contextmanager

# How often the serving thread looks for a shutdown request: socketserver's default (half a second) was waited,
# a quarter of a second on average, at the end of every test that stopped a server.
POLL_SECONDS = 0.02


def start_serving(server, name=None) -> threading.Thread:
    """Serve ``server`` (a socketserver server) in a daemon thread; stop it with ``stop_serving``."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, name=name,
                              daemon=True)
    thread.start()
    return thread


def stop_serving(server, thread: threading.Thread | None = None) -> None:
    """Stop serving and close the listening socket: the address refuses connections afterwards."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(5)


@contextmanager
def serving(server, name=None):
    """``with serving(server):`` — the server answers inside the block only."""
    thread = start_serving(server, name)
    try:
        yield server
    finally:
        stop_serving(server, thread)
