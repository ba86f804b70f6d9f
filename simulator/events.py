"""Same-time events: the one place their order is defined.

SimPy runs events due at the same instant in (priority, scheduling order).
On top of that the simulator follows one rule: **a scheduling decision at
time t sees every event already due at t** — arrivals, step completions and
lookup completions stamped t are applied before any GPU chooses its next
batch. Each GPU process therefore yields `settle(env)` (a zero-delay timeout,
queued behind everything already due) before it decides. Arrivals with equal
timestamps enter in trace order (request index), which the arrivals process
guarantees by walking the sorted trace. A GPU holds for its step with
`hold`, which moves the clock without an event when nothing else is due
before the step ends (the same order of events: see there).
"""

from __future__ import annotations


def settle(env):
    """Wait until every event already scheduled for `env.now` has run."""
    return env.timeout(0)


def hold(env, duration_s: float):
    """What `yield env.timeout(duration_s)` does, without the event where none
    is needed: when nothing is scheduled at or before the end (`env.now +
    duration_s`, the timeout's own time), the timeout would be the next event
    processed and its process would resume straight away, so the clock moves
    on in place and the order of every later event is unchanged (SimPy orders
    by time, priority and scheduling sequence: only relative order counts).
    Use as `yield from hold(env, d)`."""
    end_s = env.now + duration_s
    if env.peek() > end_s:
        env._now = end_s  # SimPy 4 keeps its clock here; it has no public setter
        return
    yield env.timeout(duration_s)
