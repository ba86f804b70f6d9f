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
on an H100, roofline, 244-token prompt next to 18 decode tokens: 2.0 ms
against 43.5 ms alone), on a compute-bound CPU about the same. delta is
convex in p (the roofline's max(compute, memory)), so it is averaged over the
trace's prompt lengths, not taken at the mean prompt: on that 70B what-if
the trace's mean delta is several times delta at the mean prompt.

How many prefills join a round: by Little's law the others in flight are
N = rate × output × TPOT (`batch.py`), and they arrive at rate/round =
rate × TPOT = N / output; with the token's batch B = N + 1 that is
(B - 1) / output prefills a round (all at once, the B - 1 others are replaced
as they finish, the same count). Per decode token of a round of B:

    prefill_s_per_token = (B - 1) / (B × mean output) × E_p[delta_B(p)].

0 at B = 1 (nobody else: no prefill inside a decode). The approximation:
delta is priced with all B decode tokens running full depth (with routers, the
prefill runs full depth with the group that stays at each router), and a
prompt over the scheduler's token budget as one chunk.
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
