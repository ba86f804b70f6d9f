"""What a validation runs: typed, frozen, validated, no side effects.

Loads are fractions of the executor's measured capacity (Vidur's protocol:
50, 85 and 95%). Skip modes (each a different question):
`random` (the same seeded parametric skip draws on both sides: are split
batches, lookups and KV holes priced right?), `replay` (the executor's own
router decisions replayed into the simulator: is the timing right when the
decisions are identical?), `measured` (the simulator's measured skip model,
no replay: does the whole prediction hold?). A policy whose scheduler never
routes (no-skip) has one mode, `no-skip`. `fit_on`: the loads whose first
executor runs the cost model is refitted on (two far apart, e.g. 0.5 and
0.95, so the batch slope is measured, not extrapolated from the small
batches of a light load); the refit is scored only at the other loads.
"""

from __future__ import annotations

from dataclasses import dataclass

from skipsim.errors import UserError

MODES = ("random", "replay", "measured")
LOADS = (0.5, 0.85, 0.95)
# --quick: every load the table asks for, the replay mode only, and
# the live router of the small committed SkipProfile (12 calibration prompts of
# <= 128 tokens: its banks are recorded and labelled in about a minute, where
# the default 48-prompt profile's took ~17 min on this CPU)
QUICK_LOADS = LOADS
QUICK_MODES = ("replay",)
# 12, not 6: with 6 one request set a point's p99 and much of its floor. A
# 12-prompt capacity run took 31 s of CPU against 15 s for 6 (no-skip,
# `bench_step_prices.py --num-prompts 12`, its 6 new reference outputs
# included): the 243 s quiet-machine --quick with 6 (182 s of it executor runs)
# should take about 182 x 2 + 61 s = 7 minutes with 12 (an estimate from CPU
# time, not a measured --quick), well inside the 15
QUICK_NUM_PROMPTS = 12
QUICK_MAX_OUTPUT_TOKENS = 32
QUICK_SKIP_CONFIG = "smollm2-quick.json"  # a file of profiler/profiles/


@dataclass(frozen=True)
class ValidateConfig:
    trace: str = "sharegpt"
    num_prompts: int = 64
    seed: int = 0
    model: str = "smollm2"
    policies: tuple[str, ...] = ("deepest-first", "no-skip")
    loads: tuple[float, ...] = LOADS  # fractions of the measured capacity
    modes: tuple[str, ...] = MODES
    skip_rates: str = "0.3"  # the random mode's hit rate per inner checkpoint, both sides
    max_output_tokens: int | None = None  # outputs cut to this many tokens (None: the trace's)
    repeats: int = 2  # executor runs per (load, policy): the noise floor
    threads: int = 1
    skip_config: str | None = None  # the router mode's SkipProfile (None: the default one)
    cost_model: str | None = None  # what the profile rows price by (None: the executor's default)
    # the loads whose first runs the cost model is refitted on (scored at the
    # others); empty: no refit
    fit_on: tuple[float, ...] = ()

    @property
    def scored_loads(self) -> tuple[float, ...]:
        """The loads the refit is scored at: those it was not fitted on."""
        return tuple(x for x in self.loads if x not in self.fit_on)

    def __post_init__(self):
        from policies.schedulers import SCHEDULERS

        for p in self.policies:
            if p not in SCHEDULERS:
                raise UserError(f"unknown policy {p!r}: use one of {', '.join(sorted(SCHEDULERS))}")
        if not self.policies:
            raise UserError("--policy names no policy")
        for m in self.modes:
            if m not in MODES:
                raise UserError(f"unknown skip mode {m!r}: use one of {', '.join(MODES)}")
        for x in self.loads:
            if not 0 < x <= 1.5:
                raise UserError(f"--loads must be fractions of capacity in (0, 1.5], got {x:g}")
        for x in self.fit_on:
            if x not in self.loads:
                raise UserError(f"--fit-on {x:g} is not one of the loads "
                                f"({', '.join(f'{y:g}' for y in self.loads)})")
        if self.fit_on and not self.scored_loads:
            raise UserError("--fit-on needs a load it does not fit on, to score the refit on")
        if self.num_prompts < 2:
            raise UserError(f"--num-prompts must be at least 2, got {self.num_prompts}")
        if self.repeats < 2:
            raise UserError("--repeats must be at least 2 (the noise floor needs two runs)")
        if self.max_output_tokens is not None and self.max_output_tokens < 2:
            raise UserError("--max-output-tokens must be at least 2")
