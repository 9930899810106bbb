"""A harness for PostgreSQL race tests: real threads, each with its own connection, released together."""

import threading

from django.db import connection

TIMEOUT = 30  # seconds; a thread still running after this is a hang (the test fails, it does not wait forever)


def run_at_once(n: int, work) -> list:
    """Run work(i) in n threads released together by a barrier; each thread uses (and closes) its own
    connection. Returns each thread's result or the exception it raised, in thread order."""
    barrier = threading.Barrier(n, timeout=TIMEOUT)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - collected and asserted on by the test
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results
