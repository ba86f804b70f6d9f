"""Ray: each point a Ray task of one CPU, on a local Ray started here
(`ray.init(num_cpus=workers)`) or on a running cluster (`--ray-address
HOST:PORT`; its nodes need skipsim installed and the sweep folder on a
shared file system, since workers write each point's records there).

A local Ray starts its workers at the driver's priority: Ray's default
(`worker_niceness` 15) let any other job on the machine starve them, and
measured at 0.53x the serial rate on 2 busy cores where the pool, at the
driver's priority, ran at 1.95x (benchmarks/bench_sweep.py, one run).
"""

from __future__ import annotations

import os

from reports.backends.base import Backend, register_backend
from skipsim.errors import UserError


@register_backend("ray")
class RayBackend(Backend):
    def map_unordered(self, fn, tasks):
        try:
            import ray
        except ImportError:
            raise UserError("the ray backend needs the `ray` package: run ./setup.sh") from None
        started = not ray.is_initialized()
        if started:
            kwargs = dict(include_dashboard=False, log_to_driver=False,
                          configure_logging=False)
            try:
                if self.address:
                    ray.init(address=self.address, **kwargs)
                else:
                    os.environ.setdefault("RAY_worker_niceness", "0")  # read by the raylet
                    ray.init(num_cpus=self.workers, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as err:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise UserError(f"could not start {where}: {first}") from None
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(fn)
            pending = [remote.remote(task) for task in tasks]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield ray.get(ref)
        finally:
            if started:
                ray.shutdown()

    def describe(self) -> str:
        where = f"cluster at {self.address}" if self.address else f"local, {self.workers} CPUs"
        return f"ray ({where})"
