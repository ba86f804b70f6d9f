"""The SkipProfile: measured skip behaviour, in the file the simulator loads.

One JSON file (small, committed for the default) with, per router
checkpoint, the hit probability, the probability that a hit changes the
greedy token, and the distribution of landings given a hit, for each target
agreement the thresholds were calibrated to (and each bank size swept);
plus the live evaluation summary, the static baseline and the name of a CSV
of per-token decisions (request_id, token_index, at, landing, p_change) for
replay. Landings are checkpoint indices of the profile's plan
(landing == num_blocks is an exit); `landing_layers` gives their layers so a
different plan can map them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from skipsim.errors import UserError

SCHEMA = "skipsim.skip_profile/1"
# Profiles written before calibration shared the KV-hole policy objects
# called the ideal repair (the full model's K/V rows) `full`.
LEGACY_KV_POLICY_NAMES = {"full": "repair"}


@dataclass(frozen=True)
class CheckpointStats:
    hit_prob: float            # P(skip | token stands at the checkpoint)
    error_prob: float          # P(greedy token changes | skip)
    landing_probs: list[float]  # P(landing | skip), aligned with CheckpointProfile.landings
    threshold: float
    tokens: int                # tokens the figures rest on


@dataclass(frozen=True)
class CheckpointProfile:
    index: int
    layer: int
    landings: list[int]
    landing_layers: list[int]   # num_layers for the exit
    by_target: dict[str, CheckpointStats]
    by_bank_fraction: dict[str, CheckpointStats] = field(default_factory=dict)


@dataclass(frozen=True)
class SkipProfile:
    model: str
    num_layers: int
    boundaries: list[int]
    router: str
    kv_policy: str
    action: str
    target_agreement: float
    checkpoints: list[CheckpointProfile]
    live: dict = field(default_factory=dict)          # target -> agreement, skipped fraction, ...
    static_baseline: list = field(default_factory=list)
    config: dict = field(default_factory=dict)        # the resolved run configuration
    traces_file: str | None = None

    @property
    def num_blocks(self) -> int:
        return len(self.boundaries) - 1

    def targets(self) -> list[str]:
        return sorted({t for c in self.checkpoints for t in c.by_target}, key=float)

    def checkpoint_at_layer(self, layer: int) -> CheckpointProfile | None:
        return next((c for c in self.checkpoints if c.layer == layer), None)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"schema": SCHEMA, **asdict(self)}, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> SkipProfile:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"skip profile {path} does not exist")
        try:
            raw = json.loads(path.read_text())
            if raw.pop("schema", None) != SCHEMA:
                raise ValueError(f"not a {SCHEMA} file")
            _rename_legacy_kv_policies(raw)
            stats = lambda d: {k: CheckpointStats(**v) for k, v in d.items()}  # noqa: E731
            raw["checkpoints"] = [
                CheckpointProfile(**{**c, "by_target": stats(c["by_target"]),
                                     "by_bank_fraction": stats(c.get("by_bank_fraction", {}))})
                for c in raw["checkpoints"]]
            return cls(**raw)
        except (ValueError, TypeError, KeyError) as err:
            raise UserError(f"skip profile {path} is malformed: {err}") from None


def _rename_legacy_kv_policies(raw: dict) -> None:
    """Old KV-policy names in a loaded profile's JSON -> today's, in place."""
    new = lambda name: LEGACY_KV_POLICY_NAMES.get(name, name)  # noqa: E731
    raw["kv_policy"] = new(raw["kv_policy"])
    for row in raw.get("live", {}).get("comparison", []) + raw.get("static_baseline", []):
        if "kv_policy" in row:
            row["kv_policy"] = new(row["kv_policy"])
    config = raw.get("config", {})
    if "kv_policy" in config:
        config["kv_policy"] = new(config["kv_policy"])
    if "compare_kv_policies" in config:
        config["compare_kv_policies"] = [new(k) for k in config["compare_kv_policies"]]
