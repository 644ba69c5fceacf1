"""Free loopback ports for servers the tests and benchmarks start (``scripts/run``'s portal, BIND 9, Pebble…)."""
import socket


def free_port_block(size):
    """The first of ``size`` consecutive loopback ports free right now, from a port the kernel chose (so that two
    calls in a row rarely return the same block, as the servers are bound only later)."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = probe.getsockname()[1]
        if first + size >= 65535:
            continue
        taken = []
        try:
            for port in range(first, first + size):
                sock = socket.socket()
                taken.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in taken:
                sock.close()
    raise RuntimeError(f"no block of {size} free loopback ports")
