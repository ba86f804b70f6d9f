"""A local process pool: one process per worker, each running whole points.

Processes start by `forkserver` rather than `fork`: the parent runs a
progress-bar thread, and forking a threaded process can deadlock; the fork
server is started before any thread and imports the simulator once, so
each worker starts warm.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from reports.backends.base import Backend, register_backend


@register_backend("pool")
class PoolBackend(Backend):
    def map_unordered(self, fn, tasks):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["reports.worker", "simulator.session"])
        with ProcessPoolExecutor(self.workers, mp_context=ctx) as pool:
            pending = {pool.submit(fn, task) for task in tasks}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            finally:
                for future in pending:
                    future.cancel()
