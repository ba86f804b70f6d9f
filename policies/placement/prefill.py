"""What other requests' prefills add to a decode round, per decode token.

A request's own prefill is in its TTFT, not its TPOT (TPOT = (finish - first
token) / (output - 1), `simulator/records.py`). What a decode token pays is
the prefill of a request admitted while it decodes: the simulator runs a new
request's prefill in the same block step as the running decode tokens (the
waiting line is admitted into queue 0, and `simulator/engine.py`'s
`_block_step` prices the chunk and the decode tokens as one `BatchShape`),
so the round grows by the *marginal* time of the chunk,

    delta_B(p) = block(L, p prefill + B decode) - block(L, B decode)
                 + lm_head(B + 1) - lm_head(B)            [seconds]

not by a prefill step of its own: no second weight read, no step overhead.
On a memory-bound GPU that is far less than a standalone prefill (Llama-3-70B
on an H100, roofline, the mean 244-token prompt next to 18 decode tokens:
2.0 ms against 43.5 ms alone), on a compute-bound CPU about the same. delta
is convex in p (the roofline's max(compute, memory): a short prompt hides in
the decode step's weight read, a long one is compute-bound), so it is
averaged over the trace's prompt lengths, not taken at the mean prompt
(ShareGPT's 200 prompts, median 113, p90 708 tokens: E_p[delta] = 14.4 ms on
that 70B what-if against 2.0 ms at the mean prompt; the simulator's rounds
grew by ~13 ms per admitted prefill there, 1.13 ms a round at 2 req/s).

How many prefills join a round: by Little's law the others in flight are
N = rate × output × TPOT (`batch.py`), and they arrive at rate/round =
rate × TPOT = N / output; with the token's batch B = N + 1 that is
(B - 1) / output prefills a round (all at once, the B - 1 others are replaced
as they finish, the same count). Per decode token of a round of B:

    prefill_s_per_token = (B - 1) / (B × mean output) × E_p[delta_B(p)].

0 at B = 1 (nobody else: no prefill inside a decode). The approximation:
delta is priced with all B decode tokens running full depth (with routers, the
prefill runs full depth with the group that stays at each router), and a
prompt over the scheduler's token budget as one chunk. On pipeline stages the
simulator merges a prefill with the decode group only when the group is on
stage 0 (`stages.py`); elsewhere it is a step of its own.

Measured (`simulate plan --confirm`, Llama-3-70B on one GPU of 149 GiB,
ShareGPT): the no-skip gap at 0.05 / 0.5 / 2 req/s went from +0.6 / +2.0 /
+7.5% (a standalone prefill a request, spread over its output) to -0.1 / -0.0
/ +0.5%; SmolLM2 on this CPU at 0.1 req/s from +3.6% to +0.6%.
"""

from __future__ import annotations

from profiler.cost_model import BatchShape, CostModel


def prefill_delta_s(cost: CostModel, num_layers: int, prompt_tokens: int, batch: int,
                    context_tokens: int) -> float:
    """delta_B(p) in seconds: one prefill of `prompt_tokens` joining a step of
    `batch` decode tokens at `context_tokens` each, through all `num_layers`."""
    decode = (context_tokens,) * batch
    block = (cost.block_time_s(num_layers, BatchShape(((prompt_tokens, 0),), decode))
             - cost.block_time_s(num_layers, BatchShape((), decode)))
    head = cost.lm_head_time_s(batch + 1) - cost.lm_head_time_s(batch)
    return max(0.0, block + head)


def prefill_share_s_per_token(cost: CostModel, num_layers: int,
                              prompts: tuple[tuple[int, float], ...], mean_output_tokens: float,
                              batch: int, context_tokens: int) -> float:
    """(B - 1) / (B × mean output) × E_p[delta_B(p)]; `prompts`: (length, weight)
    pairs of the trace's prompt lengths, weights summing to 1."""
    if batch <= 1 or not prompts:
        return 0.0
    mean_delta = sum(w * prefill_delta_s(cost, num_layers, p, batch, context_tokens)
                     for p, w in prompts)
    return (batch - 1) / (batch * max(1.0, mean_output_tokens)) * mean_delta
