"""The operating batch of a plan: how many requests are in flight at the request rate.

The batch is not a given: a plan with a slower decode round keeps each request
in flight longer, so more requests share a round, which makes the round slower
still. By Little's law the mean number of requests in flight is
N = rate × time in system, and a request spends about `output tokens × TPOT`
in the system (TTFT is one round among ~200). A decode token sees itself and
the others in flight: with Poisson arrivals and every request admitted (an
M/G/∞ system), the others are Poisson with mean N whatever the output
lengths, so the batch a token sees has mean B = N + 1 (the Palm view; the
time-average batch N undercounts, as a token is more often in a large
batch). `little_batch` solves N = rate × out × TPOT(N + 1) with TPOT(B) =
B × the planner's time per token at batch B (one decode round, prefill share
included), linear between whole batch sizes (the pricing needs whole
requests); at `max_num_seqs` the scheduler's cap binds (the system is then
overloaded: requests queue before admission).

Checked against the simulator (ShareGPT, the CPU cost model, `simulate plan
--model smollm2 --trace sharegpt --confirm`), predicted vs simulated TPOT:
no skipping at 0.1 req/s 240 vs 233 ms (+3%; the time-average batch gave
-5%, the earlier whole-batch rule B = 3 without the prefill share -17%); at
0.02 req/s B = 1.4 (the time-average rule clamps to B = 1: -19%). With the
marginal prefill share (`prefill.py`) and this CPU's own profile: 93.9 vs
93.3 ms (+0.6%) at 0.1 req/s; Llama-3-70B (roofline) on one GPU of 149 GiB at
0.05 / 0.5 / 2 req/s: -0.1 / -0.0 / +0.5%, and the measured token's-eye batch
at 2 req/s was 16.0 against B = 18.1 (a 200-request trace starts empty and
drains). The README's planning section has the tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def little_batch(tpot_at: Callable[[int], float], rate_per_s: float | None,
                 output_tokens: float, max_num_seqs: int) -> tuple[float, float]:
    """(B, TPOT at B in seconds): B = N + 1 at the fixed point N = rate × output_tokens ×
    TPOT(N + 1), N real in [0, max_num_seqs - 1]; `tpot_at(b)` is the decode round
    at whole batch b."""
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

    if rate_per_s is None or not math.isfinite(rate_per_s) or max_num_seqs == 1:
        return float(max_num_seqs), whole(max_num_seqs)
    # n: the others in flight; demand(n) = rate × out × TPOT(n + 1) - n
    demand = lambda n: rate_per_s * output_tokens * tpot(n + 1) - n  # noqa: E731
    top = float(max_num_seqs - 1)
    if demand(top) >= 0:
        return float(max_num_seqs), whole(max_num_seqs)
    lo, hi = 0.0, top  # demand(0) > 0 > demand(top)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if demand(mid) > 0 else (lo, mid)
        if hi - lo < 1e-6:
            break
    b = (lo + hi) / 2 + 1
    return b, tpot(b)


def describe(b: float, rate_per_s: float | None, output_tokens: float, tpot_s: float,
             max_num_seqs: int, cap_by: str = "--max-num-seqs") -> str:
    """`max_num_seqs`: the largest batch, set by `cap_by`."""
    if rate_per_s is None or not math.isfinite(rate_per_s):
        return f"all requests at once: batch {max_num_seqs} ({cap_by})"
    if b >= max_num_seqs:
        return (f"overloaded at {rate_per_s:g} req/s: the batch is the cap {max_num_seqs} "
                f"({cap_by})")
    return (f"Little's law at {rate_per_s:g} req/s x {output_tokens:.0f} output tokens x "
            f"{tpot_s * 1e3:.1f} ms TPOT: {b - 1:.2f} other requests in flight, "
            f"a token's mean batch {b:.2f}")
