"""Free loopback ports for servers the tests, benchmarks and the production check start (``scripts/run``'s portal,
Pebble, the demo DRIMboxes…)."""
import random
import socket

# Below Linux's ephemeral range (ip_local_port_range starts at 32768): no outgoing connection takes one of these
# ports between the check and the server binding it (seen once in the production check: address already in use).
BLOCK_SEARCH_START, BLOCK_SEARCH_STOP = 20000, 32000


def free_port_block(size):
    """The first of ``size`` consecutive loopback ports free right now, below the ephemeral range. The search
    starts at a random block, so that calls in a row (the servers bind only later) and parallel test processes
    rarely get the same one."""
    bases = range(BLOCK_SEARCH_START, BLOCK_SEARCH_STOP - size, size)
    first = random.randrange(len(bases))  # noqa: S311 - a spread of ports, not a secret
    for base in [*bases[first:], *bases[:first]]:
        taken = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                taken.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in taken:
                sock.close()
    raise RuntimeError(f"no block of {size} free loopback ports in {BLOCK_SEARCH_START}–{BLOCK_SEARCH_STOP}")
