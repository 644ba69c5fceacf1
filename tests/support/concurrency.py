"""Race tests: the same work started by many threads at once, each on its own database connection."""
import threading

from django.db import connection

# Concurrent transactions are exercised on PostgreSQL (SQLite serialises writers from their start): the tests that
# use these helpers carry the ``postgresql`` marker.


def in_parallel(count, work):
    """Run ``work()`` in ``count`` threads released together; returns (results, exceptions raised)."""
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - collected for the test to assert (a 500 raises in the client)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
