"""How many BLAS threads a server process lets the engine use.

The engine's matrix products per request are small (one worker, or a micro-batch, against
the catalogue): OpenBLAS's second thread on a 2-core machine shortened none of them in a
scratch run but spent more CPU at the same wall time (``docs/nightly-cost.md``, session
20), and with several server processes on few cores that CPU is what queues requests. Each server process limits its BLAS pool once, at start-up
(``JOBMATCH_BLAS_THREADS``, default 1).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def limit_blas_threads(threads: int) -> int | None:
    """Limit this process's BLAS libraries to ``threads`` threads (0: leave them as they
    are). Returns the limit set, or None when nothing was changed."""
    if threads <= 0:
        return None
    from threadpoolctl import threadpool_limits

    # not a context manager: the limit holds for the life of the server process
    threadpool_limits(limits=threads, user_api="blas")
    log.info("BLAS limited to %d thread(s) per process", threads)
    return threads
