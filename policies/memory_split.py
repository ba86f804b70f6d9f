"""The memory split: GPU memory = weights + banks + KV cache.

With pipeline stages each GPU holds its stages' layers (and their K/V) and
the banks of the checkpoints its blocks end at; the KV capacity in tokens is
that of the tightest GPU, since a token's K/V spans every stage. Banks on
the CPU (`--lookup-placement cpu`) take host memory, not GPU memory. A bank
entry holds a float32 key of `hidden_size` values plus a small payload
(decision and id), so bytes turn into entries per checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.checkpoint_plan import CheckpointPlan
from skipsim.errors import UserError
from skipsim.model_spec import GIB, ModelSpec


@dataclass(frozen=True)
class MemorySplit:
    gpu_memory_bytes: int  # per GPU
    weight_bytes: int  # whole model
    bank_bytes: int  # all banks, wherever they live
    bank_entries_per_checkpoint: int
    kv_capacity_tokens: int
    kv_capacity_blocks: int
    kv_bytes_per_token: int  # all layers


def stage_of_blocks(plan: CheckpointPlan, num_gpus: int) -> list[int]:
    """Pipeline stage of each block: contiguous, non-empty, and balanced by layer
    count (the largest stage as small as it can be: the pipeline's bottleneck).

    The linear partition problem, solved exactly by dynamic programming over
    (stages, blocks) in O(k^2 G) (Skiena, "The Algorithm Design Manual",
    §10.7); of equally balanced splits the one with the latest cuts is kept.
    """
    k, sizes = plan.num_blocks, plan.block_sizes
    if num_gpus > k:
        raise UserError(f"--num-gpus {num_gpus} exceeds the plan's {k} blocks")
    start = [0]
    for size in sizes:
        start.append(start[-1] + size)
    inf = float("inf")
    # worst[g][j]: the largest stage when blocks [0, j) form g stages; cut[g][j]: last cut
    worst = [[inf] * (k + 1) for _ in range(num_gpus + 1)]
    cut = [[0] * (k + 1) for _ in range(num_gpus + 1)]
    worst[0][0] = 0
    for g in range(1, num_gpus + 1):
        for j in range(g, k + 1):
            for i in range(g - 1, j):
                w = max(worst[g - 1][i], start[j] - start[i])
                if w <= worst[g][j]:
                    worst[g][j], cut[g][j] = w, i
    stages, j = [0] * k, k
    for g in range(num_gpus, 0, -1):
        i = cut[g][j]
        stages[i:j] = [g - 1] * (j - i)
        j = i
    return stages


def memory_split(spec: ModelSpec, plan: CheckpointPlan, gpu_memory_bytes: int,
                 bank_fraction: float, banks_on_gpu: bool, num_gpus: int,
                 kv_block_tokens: int, bank_entry_overhead_bytes: int,
                 bank_entries: tuple[int, ...] | None = None) -> MemorySplit:
    """`bank_entries` (one per inner checkpoint, from a plan file) replaces the
    even split of `bank_fraction`; the banks' bytes are then entries × entry size."""
    stages = stage_of_blocks(plan, num_gpus)
    routers = plan.num_blocks - 1
    entry_bytes = spec.hidden_size * 4 + bank_entry_overhead_bytes
    if bank_entries is not None:
        if len(bank_entries) != routers:
            raise UserError(f"{len(bank_entries)} bank sizes for the {routers} routers of {plan}")
        bank_bytes = sum(bank_entries) * entry_bytes
        entries = sum(bank_entries) // routers if routers else 0
    else:
        bank_bytes = int(bank_fraction * gpu_memory_bytes * num_gpus) if routers else 0
        entries = bank_bytes // routers // entry_bytes if routers else 0
    kv_layer_bytes = spec.kv_bytes_per_token_per_layer
    embed_bytes = spec.weight_bytes - spec.num_layers * spec.layer_params * spec.dtype_bytes
    capacity_tokens = None
    for g in range(num_gpus):
        blocks = [j for j, s in enumerate(stages) if s == g]
        layers = sum(plan.block_sizes[j] for j in blocks)
        weights = layers * spec.layer_params * spec.dtype_bytes + embed_bytes // num_gpus
        mine = [j for j in blocks if j + 1 < plan.num_blocks]  # checkpoints its blocks end at
        banks = (0 if not (banks_on_gpu and routers) else
                 sum(bank_entries[j] for j in mine) * entry_bytes if bank_entries is not None
                 else bank_bytes * len(mine) // routers)
        free = gpu_memory_bytes - weights - banks
        if free <= 0:
            raise UserError(
                f"weights ({weights / GIB:.2f} GiB) + banks ({banks / GIB:.2f} GiB) exceed "
                f"the {gpu_memory_bytes / GIB:.2f} GiB of GPU {g}: lower --bank-fraction "
                "or raise --gpu-memory")
        tokens = free // (kv_layer_bytes * layers)
        capacity_tokens = tokens if capacity_tokens is None else min(capacity_tokens, tokens)
    blocks_total = capacity_tokens // kv_block_tokens
    return MemorySplit(int(gpu_memory_bytes), spec.weight_bytes, bank_bytes, int(entries),
                       int(blocks_total * kv_block_tokens), int(blocks_total),
                       kv_layer_bytes * spec.num_layers)
