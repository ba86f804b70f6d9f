"""Pipeline stages for `simulate plan`: how many GPUs a plan runs on, and the
plan as the simulator runs it on them.

A model whose weights do not fit one GPU (Llama-3-70B in bf16, 131.42 GiB,
on an 80 GB H100) is planned on N GPUs as pipeline stages, the way
`simulate run --num-gpus N` runs it (`simulator/engine.py`): one GPU per
contiguous run of blocks, a token's pass going through the stages one after
another. The default N is the fewest GPUs whose pooled memory holds the
weights and the KV cache of one request of the workload's mean length
(`measure.kv_budget`'s check on N × the memory of one GPU).

Memory: the planner pools the N GPUs: its budget is N × per-GPU memory,
shared by the weights, the KV cache of the batch and the banks. That is an
approximation. Each stage really holds its own layers' weights, their K/V
and the banks of the checkpoints its blocks end at, and the simulator
(`policies/memory_split.py`) takes the KV capacity of the tightest GPU
(a token's K/V spans every stage). Pooling ignores the imbalance between
stages: stages of equal layer counts (balanced cuts, what the simulator
picks from the plan's blocks) differ from the pool only by the banks, MiB
against tens of GiB of KV, so the what-ifs' KV room and batch are priced
right; a plan whose blocks force unequal stages (say 50 + 30 of 80 layers)
has less KV room than pooled, or does not fit at all. `stage_problem` runs
the simulator's own accounting on a plan and says so when it does not fit.

Time: a token runs the stages one after another, so its decode time is the
sum over the plan's blocks, as on one GPU; the engine adds no transfer
between stages (activations of B tokens are KiB to MiB against the weights'
GiB), so the planner's prices are unchanged. The simulator does not run the
stages as one group, though, and the planner prices the one-GPU behaviour:
a group on stage 1 leaves stage 0 free, so a newly admitted request's
prefill runs there as a step of its own (70B what-if, ShareGPT at 0.5 req/s:
46 of GPU 0's 197 prefill steps carried decode tokens, against 192 of 197
on one GPU of the pooled memory), and the new request then decodes as a
group of its own that the deepest-first scheduler does not merge back, each
group paying each stage's weight read. Under load that costs: no skipping at
0.5 and 2 req/s is simulated at 46.3 and 50.4 ms TPOT on 2 H100s against
42.05 and 43.3 ms on one GPU of their pooled memory, which the planner
predicts (42.0 and 43.6 ms), so it is 9% and 14% low for the stages. Groups
on different stages at once overlap, which helps a light load (the 8-router
plan at 0.05 req/s: 41.0 ms on 2 stages, 43.0 ms on one GPU) and the
all-at-once prefill burst (102.0 against 163.5 ms). Another difference: a plan
with fewer blocks than GPUs (a plan without routers, one block) is run with
router-less cuts at balanced layers (`staged`), so each stage is a step of
its own and pays the step overhead: N - 1 more overheads per decode round
than the planner charges (tens of us against a 70B round's tens of ms).
A plan with routers and fewer blocks than GPUs is not run (the simulator
places whole blocks on GPUs); the confirmation says so for that row.
"""

from __future__ import annotations

import math

from skipsim.errors import UserError
from skipsim.model_spec import GIB, ModelSpec


def kv_bytes_per_request(spec: ModelSpec, tokens_per_request: float) -> float:
    return tokens_per_request * spec.kv_bytes_per_token_per_layer * spec.num_layers


def fits(spec: ModelSpec, gpu_memory_bytes: float, num_gpus: int,
         tokens_per_request: float) -> bool:
    """Whether N GPUs' pooled memory holds the weights and one request's KV cache."""
    per_request = kv_bytes_per_request(spec, tokens_per_request)
    return num_gpus * gpu_memory_bytes - spec.weight_bytes >= per_request


def resolve_num_gpus(spec: ModelSpec, gpu_memory_bytes: float, tokens_per_request: float,
                     requested: int | None, gpu_name: str) -> tuple[int, str]:
    """(GPUs to plan on, the note that says why): `requested` as given (checked
    by `measure.kv_budget`), else the fewest that hold the weights and one
    request (at most one per layer: a stage holds at least one layer)."""
    if requested is not None:
        if not 1 <= requested <= spec.num_layers:
            raise UserError(f"--num-gpus must lie in [1, {spec.num_layers}] (one layer per "
                            f"stage at least), got {requested}")
        return requested, ""
    n = max(1, math.ceil(spec.weight_bytes / gpu_memory_bytes))
    while n < spec.num_layers and not fits(spec, gpu_memory_bytes, n, tokens_per_request):
        n += 1
    if n == 1:
        return 1, ""
    return n, (f"{spec.name} ({spec.weight_bytes / GIB:.2f} GiB of weights) does not fit one "
               f"{gpu_name} ({gpu_memory_bytes / GIB:.2f} GiB): planned on {n} GPUs as "
               f"pipeline stages (--num-gpus {n} to set)")


def balanced_cuts(num_layers: int, num_gpus: int) -> tuple[int, ...]:
    """Boundaries of `num_gpus` stages of (nearly) equal layer counts."""
    return tuple(round(g * num_layers / num_gpus) for g in range(num_gpus + 1))


def staged(boundaries: tuple[int, ...], bank_entries: tuple[int, ...],
           num_gpus: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(boundaries, bank entries) to simulate a plan on `num_gpus` stages: a plan
    without routers is cut at balanced layers, with empty banks there (the
    simulator then makes no lookups: `simulator/run.py`'s routers-off rule);
    any other plan as it is (its blocks are the stages' units)."""
    if num_gpus == 1 or len(boundaries) > 2:
        return tuple(boundaries), tuple(bank_entries)
    cuts = balanced_cuts(boundaries[-1], num_gpus)
    return cuts, (0,) * (len(cuts) - 2)


def checkpoints_of(boundaries: tuple[int, ...]) -> str:
    """Boundaries as `--checkpoints` takes them."""
    return ",".join(str(b) for b in boundaries)


def stage_problem(spec: ModelSpec, boundaries: tuple[int, ...], bank_entries: tuple[int, ...],
                  gpu_memory_bytes: int, num_gpus: int, kv_block_tokens: int,
                  entry_overhead_bytes: int) -> str:
    """Why the simulator's per-GPU accounting refuses this plan on `num_gpus`
    stages ("" when it holds it)."""
    from policies.checkpoint_plan import CheckpointPlan
    from policies.memory_split import memory_split

    bounds, entries = staged(boundaries, bank_entries, num_gpus)
    try:
        memory_split(spec, CheckpointPlan(tuple(bounds)),
                     int(gpu_memory_bytes), 0.0, True, num_gpus, kv_block_tokens,
                     entry_overhead_bytes, entries)
    except UserError as err:
        return str(err)
    return ""
