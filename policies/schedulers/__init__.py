"""Scheduling policies, one file each, registered by name in `SCHEDULERS`:
`fcfs`, `deepest-first`, `round-robin`, `largest-queue` and the `no-skip`
baseline. `base.py` holds the plain-data contract the executor reuses.
"""

from policies.schedulers import deepest_first, fcfs, largest_queue, no_skip, round_robin  # noqa: F401  (registration)
from policies.schedulers.base import (
                                      SCHEDULERS,
                                      QueueView,
                                      Scheduler,
                                      Selection,
                                      StepState,
                                      fill_batch,
                                      make_scheduler,
)

__all__ = ["SCHEDULERS", "QueueView", "Scheduler", "Selection", "StepState", "fill_batch",
           "make_scheduler"]
