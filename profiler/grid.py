"""What a profile measures: the grid of shapes, bank sizes and timing repeats.

`ProfileGrid.full()` is the committed profile's grid; `ProfileGrid.quick()`
is a thinner one that finishes in minutes on a 2-core CPU. Shapes follow the
issue: prefill 16..2048 tokens, decode batch 1..256 x context 128..4096
(capped by `max_decode_kv_tokens`, the K/V one layer must hold), banks of
100 (IVF-PQ: 1k) to 1M entries (each index kind up to its own cap: building
HNSW or IVF-PQ over a million vectors, or scanning a million flat entries 256 queries at a
time, takes minutes per point on 2 cores; the fits extend in log-log beyond
the largest bank, and a flat scan is linear in the bank), query batches 1..256.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from profiler.timing import TimingConfig
from skipsim.errors import UserError

INDEX_KINDS = ("flat", "ivfpq", "hnsw")


def _log_grid(lo: int, hi: int, per_octave: int = 1) -> tuple[int, ...]:
    """lo, ..., hi spaced `per_octave` points per doubling (rounded, unique)."""
    out, k = [], 0
    while True:
        v = round(lo * 2 ** (k / per_octave))
        if v > hi:
            break
        out.append(v)
        k += 1
    return tuple(sorted(set(out)))


@dataclass(frozen=True)
class ProfileGrid:
    prefill_tokens: tuple[int, ...]
    decode_batches: tuple[int, ...]
    decode_contexts: tuple[int, ...]
    logit_tokens: tuple[int, ...]
    kv_projection_tokens: tuple[int, ...]
    bank_sizes: tuple[int, ...]
    query_batches: tuple[int, ...]
    max_decode_kv_tokens: int = 1 << 19  # x block_layers x 1.5 KB per token
    max_bank_per_index: dict = field(default_factory=lambda: {
        "flat": 300_000, "ivfpq": 300_000, "hnsw": 100_000})
    # IVF-PQ trains 256 centroids per sub-quantizer: no smaller bank
    min_bank_per_index: dict = field(default_factory=lambda: {"ivfpq": 1_000})
    index_kinds: tuple[str, ...] = INDEX_KINDS
    timing: TimingConfig = TimingConfig()
    layer_index: int = 0  # the layers share one shape; these are timed
    # the per-step overhead: the executor's loop over a few requests per policy
    # (`profiler.step_overhead`)
    overhead_policies: tuple[str, ...] = ("no-skip", "deepest-first")
    overhead_requests: int = 4
    overhead_prompt_tokens: int = 16
    overhead_output_tokens: int = 32
    block_layers: int = 4  # distinct layers per timed call (weights leave the cache)
    # layer-side rows timed after the rest of the model streamed
    # (`profiler.cold_cache`); off by default: on the executor's own steps the
    # cold rows priced worse than the tight loop (`profiler.layer_profile`)
    cold_layers: bool = False
    name: str = "custom"

    def __post_init__(self):
        for f in ("prefill_tokens", "decode_batches", "decode_contexts", "logit_tokens",
                  "kv_projection_tokens", "bank_sizes", "query_batches"):
            values = getattr(self, f)
            if not values or any(int(v) < 1 for v in values):
                raise UserError(f"profile grid: {f} must be non-empty positive integers")
        if self.block_layers < 1:
            raise UserError("profile grid: block_layers must be >= 1")
        if min(self.overhead_requests, self.overhead_prompt_tokens,
               self.overhead_output_tokens) < 1:
            raise UserError("profile grid: the overhead run needs >= 1 request and token")
        unknown = set(self.index_kinds) - set(INDEX_KINDS)
        if unknown:
            raise UserError(f"unknown index kind(s) {sorted(unknown)}: use {INDEX_KINDS}")

    def decode_points(self) -> list[tuple[int, int]]:
        """(batch, context) pairs whose K/V fits the cap."""
        return [(b, c) for b in self.decode_batches for c in self.decode_contexts
                if b * c <= self.max_decode_kv_tokens]

    def bank_sizes_for(self, kind: str) -> tuple[int, ...]:
        cap = self.max_bank_per_index.get(kind, max(self.bank_sizes))
        floor = self.min_bank_per_index.get(kind, 0)
        return tuple(n for n in self.bank_sizes if floor <= n <= cap)

    @classmethod
    def full(cls) -> ProfileGrid:
        return cls(
            prefill_tokens=_log_grid(16, 2048, 2),
            decode_batches=_log_grid(1, 256, 1),
            decode_contexts=_log_grid(128, 4096, 1),
            logit_tokens=_log_grid(1, 256, 1),
            kv_projection_tokens=_log_grid(1, 2048, 1),
            # from 100: a live router's bank is often a few hundred entries (the
            # quick SkipProfile's 372), and a lookup's fixed part does not shrink
            # with the bank as a log-log extrapolation below the grid would
            bank_sizes=(100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000),
            query_batches=_log_grid(1, 256, 1),
            timing=TimingConfig(warmup=2, repeats=7),
            name="full")

    @classmethod
    def quick(cls) -> ProfileGrid:
        return cls(
            prefill_tokens=_log_grid(16, 2048, 1),
            decode_batches=_log_grid(1, 256, 1),
            decode_contexts=(128, 512, 2048),
            logit_tokens=(1, 8, 64, 256),
            kv_projection_tokens=(1, 16, 256, 2048),
            bank_sizes=(1_000, 10_000, 100_000),
            query_batches=(1, 4, 16, 64, 256),
            max_decode_kv_tokens=1 << 18,
            max_bank_per_index={"flat": 100_000, "ivfpq": 100_000, "hnsw": 10_000},
            timing=TimingConfig(warmup=1, repeats=5),
            name="quick")

    @classmethod
    def tiny(cls) -> ProfileGrid:
        """A few points, seconds: the fast test suite's real profile."""
        return cls(
            prefill_tokens=(16, 64), decode_batches=(1, 4), decode_contexts=(128,),
            logit_tokens=(1, 4), kv_projection_tokens=(1, 16),
            bank_sizes=(1_000,), query_batches=(1, 8),
            max_bank_per_index={"flat": 1_000, "ivfpq": 1_000, "hnsw": 1_000},
            block_layers=2, overhead_requests=2, overhead_output_tokens=4,
            timing=TimingConfig(warmup=1, repeats=3, min_repeat_s=5e-4),
            name="tiny")


GRIDS = {"full": ProfileGrid.full, "quick": ProfileGrid.quick, "tiny": ProfileGrid.tiny}
