"""Same-time events: the one place their order is defined.

SimPy runs events due at the same instant in (priority, scheduling order).
On top of that the simulator follows one rule: **a scheduling decision at
time t sees every event already due at t** — arrivals, step completions and
lookup completions stamped t are applied before any GPU chooses its next
batch. Each GPU process therefore yields `settle(env)` (a zero-delay timeout,
queued behind everything already due) before it decides. Arrivals with equal
timestamps enter in trace order (request index), which the arrivals process
guarantees by walking the sorted trace.
"""

from __future__ import annotations


def settle(env):
    """Wait until every event already scheduled for `env.now` has run."""
    return env.timeout(0)
