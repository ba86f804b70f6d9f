"""`parametric`: routers that hit with a fixed probability per checkpoint.

At inner checkpoint i a decode token hits with probability hit_rates[i-1];
a hit exits to the LM head with probability exit_prob, else skips
`skip_blocks` blocks (landing at min(i + skip_blocks, k), so a skip past the
last block is an exit). A hit changes the greedy token with probability
p_change[i-1]. Set from the CLI (`--skip-rates 0.2,0.2,...` — one value is
broadcast to every checkpoint — `--exit-prob`, `--p-change`) or a JSON/YAML
file (`--skip-config FILE`) with the same keys plus `kv_p_change_scale`.

The defaults are placeholders until calibration measures SmolLM2: a 15% hit
rate per checkpoint and p_change 0.1, from DESIGN.md's measurement that a
cosine router keeps the greedy token ~86-93% of the time on a 4-layer skip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import DEFAULT_P_CHANGE_SCALE
from simulator.skip_model import SkipModel, SkipOutcome, register_skip_model
from skipsim.errors import UserError

DEFAULT_HIT_RATE = 0.15
DEFAULT_P_CHANGE = 0.1
KEYS = ("hit_rates", "exit_prob", "skip_blocks", "p_change", "kv_p_change_scale")


@dataclass(frozen=True)
class ParametricConfig:
    hit_rates: tuple[float, ...]  # one per inner checkpoint 1..k-1
    p_change: tuple[float, ...]  # one per inner checkpoint
    exit_prob: float = 0.0
    skip_blocks: int = 1
    kv_p_change_scale: dict = field(default_factory=lambda: dict(DEFAULT_P_CHANGE_SCALE))

    def __post_init__(self):
        for name in ("hit_rates", "p_change"):
            if any(not 0.0 <= v <= 1.0 for v in getattr(self, name)):
                raise UserError(f"skip model: every {name} value must lie in [0, 1]")
        if not 0.0 <= self.exit_prob <= 1.0:
            raise UserError("skip model: exit_prob must lie in [0, 1]")
        if self.skip_blocks < 1:
            raise UserError("skip model: skip_blocks must be at least 1")


def _per_checkpoint(values, plan: CheckpointPlan, name: str) -> tuple[float, ...]:
    if isinstance(values, str):
        try:
            values = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise UserError(f"--{name.replace('_', '-')} {values!r}: expected numbers") from None
    values = [float(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    n = plan.num_blocks - 1
    if len(values) == 1:
        values = values * n
    if len(values) != n:
        raise UserError(f"{name}: {len(values)} values for {n} inner checkpoints "
                        f"of plan {plan}")
    return tuple(values)


def read_config_file(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"skip config not found: {p}")
    try:
        if p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(p.read_text())
        else:
            data = json.loads(p.read_text())
    except Exception as err:  # json and yaml raise different types
        raise UserError(f"{p}: not a readable skip config ({err})") from None
    if not isinstance(data, dict) or set(data) - set(KEYS):
        raise UserError(f"{p}: expected a mapping with keys among {', '.join(KEYS)}")
    return data


@register_skip_model("parametric")
class ParametricSkipModel(SkipModel):
    name = "parametric"
    uses_request_ids = False

    def __init__(self, plan: CheckpointPlan, config: ParametricConfig):
        self.plan, self.config = plan, config
        # per checkpoint (index 0 unused): hit rate, blocks a hit jumps, p_change
        k = plan.num_blocks
        self._at = [(0.0, 0, 0.0)] + [
            (float(rate), min(at + config.skip_blocks, k) - at, float(p))
            for at, (rate, p) in enumerate(zip(config.hit_rates, config.p_change), start=1)]
        self.label = (f"parametric: hit {','.join(f'{r:g}' for r in config.hit_rates)}, "
                      f"exit {config.exit_prob:g}, skip {config.skip_blocks} block(s)")

    @classmethod
    def from_options(cls, plan, options):
        data = {"hit_rates": DEFAULT_HIT_RATE, "p_change": DEFAULT_P_CHANGE}
        if options.get("skip_config"):
            data.update(read_config_file(options["skip_config"]))
        for key in ("hit_rates", "p_change", "exit_prob"):
            if options.get(key) is not None:  # flags override the file
                data[key] = options[key]
        scale = dict(DEFAULT_P_CHANGE_SCALE, **data.get("kv_p_change_scale", {}))
        return cls(plan, ParametricConfig(
            hit_rates=_per_checkpoint(data["hit_rates"], plan, "skip_rates"),
            p_change=_per_checkpoint(data["p_change"], plan, "p_change"),
            exit_prob=float(data.get("exit_prob", 0.0)),
            skip_blocks=int(data.get("skip_blocks", 1)), kv_p_change_scale=scale))

    def decide(self, plan, at, request_ids, token_indices, rng):
        # one uniform u per token: a hit is u < r; given a hit, u / r is
        # uniform again, so u < r * exit_prob is an exit with probability exit_prob
        u = rng.random(len(request_ids))
        r, jump, p_change = self._at[at]
        hit = u < r
        landing = hit * jump  # arithmetic on masks: cheaper than np.where
        landing += at
        if self.config.exit_prob:
            landing[u < r * self.config.exit_prob] = plan.num_blocks
        return SkipOutcome(landing, hit * p_change)

    def decide_hits(self, plan, at, request_ids, token_indices, rng):
        # `decide`'s draws and thresholds, with only the (sparse) hits gathered
        u = rng.random(len(request_ids))
        r, jump, p_change = self._at[at]
        hit = (u < r).nonzero()[0]  # flatnonzero without its wrappers
        landing, p = np.empty(len(hit), np.int64), np.empty(len(hit))
        landing.fill(at + jump)  # (np.full's Python wrapper costs more than the fill)
        p.fill(p_change)
        if self.config.exit_prob and len(hit):
            landing[u[hit] < r * self.config.exit_prob] = plan.num_blocks
        return hit, landing, p

    def notes(self, plan):
        silent = [c for c in plan.router_checkpoints if self._at[c][0] <= 0]
        return self.never_fire_note(plan, silent, "(hit rate 0)")

    def kv_hole_p_change_scale(self, kv_policy):
        return float(self.config.kv_p_change_scale.get(kv_policy, 1.0))
