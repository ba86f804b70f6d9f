"""The cost-model contract: how long the device takes for each kind of work.

The simulator asks a `CostModel` for the time of every step it models; the
profiler fits one to measurements, and an analytic roofline stands in where
nothing was measured. Implementations register by name with
`@register_cost_model("name")`; the CLI's `--cost-model` choices come from
`COST_MODELS`, and a path to a profile file is accepted too.

Every time is in seconds. `label` says where the numbers come from
("analytic roofline: H100-SXM", "measured: <cpu name>, 2 threads") and is
printed with every result, so a what-if is never mistaken for a measurement.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skipsim.errors import UserError
from skipsim.registry import Registry

if TYPE_CHECKING:  # numpy stays out of the CLI's import path
    import numpy as np


@dataclass(frozen=True, slots=True)  # built once per simulated step: slots keep it cheap
class BatchShape:
    """What one block execution processes.

    prefill_chunks: (new_tokens, cached_tokens) per prefilling request: the
        chunk's tokens attend to the cached prefix and causally to themselves.
    decode_context_lens: context length (tokens already in the KV cache,
        the new one included) of each decoding token, one per request: a
        tuple, or an int64 array (the simulator's gather, summed in bulk).
        Cost models read it through the `decode_*` properties.
    """

    prefill_chunks: tuple[tuple[int, int], ...] = ()
    decode_context_lens: tuple[int, ...] | np.ndarray = ()

    @property
    def prefill_tokens(self) -> int:
        chunks = self.prefill_chunks  # (most steps have none: no generator for them)
        return sum(n for n, _ in chunks) if chunks else 0

    @property
    def decode_tokens(self) -> int:
        return len(self.decode_context_lens)

    @property
    def tokens(self) -> int:
        return self.prefill_tokens + self.decode_tokens

    @property
    def decode_context_sum(self) -> int:
        lens = self.decode_context_lens
        return sum(lens) if isinstance(lens, (tuple, list)) else int(lens.sum())

    @property
    def decode_context_max(self) -> int:
        lens = self.decode_context_lens
        return max(lens) if isinstance(lens, (tuple, list)) else int(lens.max())

    @property
    def prefill_attention_pairs(self) -> int:
        """Query-key pairs of causal prefill attention: Σ n·c + n(n+1)/2."""
        return sum(n * c + n * (n + 1) // 2 for n, c in self.prefill_chunks)


class CostModel(ABC):
    """Times of the served system's steps on one device (seconds)."""

    name: str = "abstract"
    label: str = "abstract"
    # Models fitted to a measured grid count the steps they priced outside it
    # (the simulator resets the count per run) and say what the grid was.
    outside_grid_steps: int = 0
    grid_note: str = ""
    # which model was chosen and why ("auto: <profile>, the committed profile of
    # this CPU"), set by `profiler.resolve.cost_model_from_arg`
    source: str = ""
    # the file a measured model was read from, resolved ("" for an analytic
    # one): written to a run's config.json, so a refit or validate reads the
    # very profile the run was priced by
    profile_path: str = ""

    def start_run(self, longest_request_tokens: int) -> None:
        """A run begins whose requests hold at most this many tokens (prompt +
        output): reset the per-run counts (models with a grid override this)."""
        self.outside_grid_steps = 0

    @abstractmethod
    def block_time_s(self, num_layers: int, batch: BatchShape) -> float:
        """Run `num_layers` consecutive decoder layers over `batch`."""

    @abstractmethod
    def lm_head_time_s(self, num_tokens: int) -> float:
        """Final norm + LM head (+ sampling) for tokens that produce logits;
        embedding lookups of the batch are folded in here too."""

    @abstractmethod
    def lookup_time_s(self, bank_entries: int, num_queries: int) -> float:
        """One batched bank lookup (search + host/device copies where the
        bank is not beside the model)."""

    @abstractmethod
    def kv_projection_time_s(self, num_tokens: int, num_layers: int) -> float:
        """K/V projections alone of `num_tokens` carried hidden states in
        `num_layers` skipped layers (the `project` KV-hole policy)."""

    @abstractmethod
    def skip_action_time_s(self, num_tokens: int, macs_per_token: int) -> float:
        """A skip action's work for `num_tokens` skipping tokens, each costing
        `macs_per_token` multiply-adds (a block shortcut: d² for a d x d map)."""

    @property
    @abstractmethod
    def step_overhead_s(self) -> float:
        """Fixed cost of one scheduler step (launches, bookkeeping)."""


# `COST_MODELS[name](spec=, device=) -> CostModel`; the names are known before
# the implementations (pandas for the measured one) are imported
COST_MODELS: Registry = Registry(lazy={
    "measured": "profiler.fitted:MeasuredCostModel",
    "roofline": "profiler.roofline:RooflineCostModel",
})
register_cost_model = COST_MODELS.register


def unknown_cost_model(name: str) -> UserError:
    return UserError(f"unknown cost model {name!r}: use one of "
                     f"{', '.join(sorted(COST_MODELS))}, or the path of a profile file")
