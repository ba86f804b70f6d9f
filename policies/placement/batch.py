"""The operating batch of a plan: how many requests are in flight at the request rate.

The batch is not a given: a plan with a slower decode round keeps each request
in flight longer, so more requests share a round, which makes the round slower
still. By Little's law the mean number of requests in flight is
B = rate × time in system, and a request spends about `output tokens × TPOT`
in the system (TTFT is one round among ~200), with TPOT(B) = B × the
planner's time per token at batch B (one decode round, prefill share
included). `little_batch` solves B = rate × out × TPOT(B) for the plan at
hand, with TPOT linear between whole batch sizes (the pricing needs whole
requests); past `max_num_seqs` the scheduler's cap binds (the system is then
overloaded: requests queue before admission and B = the cap).

Checked against the simulator (`simulate plan --model smollm2 --trace
sharegpt --request-rate 0.1 --confirm`, the CPU cost model): the no-skip
plan's fixed point B = 4.35 predicts 221 ms against 233 ms simulated (-4.9%),
where the earlier whole-batch rule (B = 3, full-model step without the
prefill share) predicted 194 ms (-16.7%). The simulator's token-weighted
batch is larger than this time average (a token is more often in a large
batch); for plans that skip, whose TPOT grows faster with B, that is part of
the gap left (README, planning).
"""

from __future__ import annotations

import math
from collections.abc import Callable


def little_batch(tpot_at: Callable[[int], float], rate_per_s: float | None,
                 output_tokens: float, max_num_seqs: int) -> tuple[float, float]:
    """(B, TPOT at B in seconds): the fixed point B = rate × output_tokens × TPOT(B)
    over real B in [1, max_num_seqs]; `tpot_at(b)` is the decode round at whole b."""
    memo: dict[int, float] = {}

    def whole(b: int) -> float:
        if b not in memo:
            memo[b] = tpot_at(b)
        return memo[b]

    def tpot(b: float) -> float:
        lo = min(max(1, math.floor(b)), max_num_seqs)
        if lo >= max_num_seqs:
            return whole(max_num_seqs)
        f = b - lo
        return whole(lo) if f <= 0 else (1 - f) * whole(lo) + f * whole(lo + 1)

    if rate_per_s is None or not math.isfinite(rate_per_s):
        return float(max_num_seqs), whole(max_num_seqs)
    demand = lambda b: rate_per_s * output_tokens * tpot(b) - b  # noqa: E731
    if demand(float(max_num_seqs)) >= 0:
        return float(max_num_seqs), whole(max_num_seqs)
    if demand(1.0) <= 0:
        return 1.0, whole(1)
    lo, hi = 1.0, float(max_num_seqs)  # demand(lo) > 0 > demand(hi)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if demand(mid) > 0 else (lo, mid)
        if hi - lo < 1e-6:
            break
    b = (lo + hi) / 2
    return b, tpot(b)


def describe(b: float, rate_per_s: float | None, output_tokens: float, tpot_s: float,
             max_num_seqs: int) -> str:
    if rate_per_s is None or not math.isfinite(rate_per_s):
        return f"all requests at once: batch {max_num_seqs} (--max-num-seqs)"
    if b >= max_num_seqs:
        return (f"overloaded at {rate_per_s:g} req/s: the batch is the --max-num-seqs cap "
                f"{max_num_seqs}")
    return (f"Little's law at {rate_per_s:g} req/s x {output_tokens:.0f} output tokens x "
            f"{tpot_s * 1e3:.1f} ms TPOT: {b:.2f} requests in flight")
