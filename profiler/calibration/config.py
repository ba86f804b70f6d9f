"""The calibration run's configuration: a frozen dataclass that only validates."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from policies.kv_hole import KV_HOLE_POLICIES
from skipsim.errors import UserError

# live_eval's KV-hole policies (the shared policy objects; every fill is done on
# its tensors) and carry actions, named here so that the CLI lists them
# without importing torch
KV_POLICIES = tuple(KV_HOLE_POLICIES)
ACTIONS = ("identity", "delta", "shortcut")  # policies.actions.SKIP_ACTIONS (imports numpy)
THRESHOLD_CALIBRATIONS = ("live", "offline")
DEFAULT_CHECKPOINTS = "8,2,2,2,2,2,2,2,2,2,2,2"


@dataclass(frozen=True)
class CalibrationConfig:
    model: str = "smollm2"
    checkpoints: str = DEFAULT_CHECKPOINTS
    router: str = "knn"
    compare_routers: tuple[str, ...] = ("cosine", "knn", "probe")
    target_agreement: float = 0.99
    targets: tuple[float, ...] = (0.8, 0.9, 0.95, 0.98, 0.99)
    num_calibration_prompts: int = 48
    num_test_prompts: int = 16
    max_prompt_tokens: int = 256
    max_new_tokens: int = 64
    max_skip_blocks: int = 2
    folds: int = 4
    kv_policy: str = "project"
    compare_kv_policies: tuple[str, ...] = ("project", "copy", "repair")
    action: str = "identity"
    threshold_calibration: str = "live"   # the profile router's thresholds: live | offline
    bank_fractions: tuple[float, ...] = (0.25, 0.5, 1.0)
    static_layer_counts: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    # calibration prompts decoded by the live threshold calibration (and kept with
    # their K/V); the others only feed banks, routers and thresholds' offline curves
    live_calibration_prompts: int = 48
    record_only: bool = False   # record and label into the cache, then stop
    offline_routers: tuple[str, ...] = ("probe", "mlp")   # also walked offline (no live runs)
    compare_actions: tuple[str, ...] = ()   # the profile router's ladder also with these actions
    learning_curve_fractions: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
    # skipped fractions the frontier ladders aim their live points at
    ladder_fractions: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3)
    live_oracle: bool = True   # decode the hindsight oracle live (~8 live passes of work)
    # position of the held-out prompts (default: after calibration)
    held_out_from: int | None = None
    seed: int = 0

    def __post_init__(self):
        for t in (self.target_agreement, *self.targets):
            if not 0.0 < t <= 1.0:
                raise UserError(f"target agreement {t} must be in (0, 1]")
        for name, v in (("calibration prompts", self.num_calibration_prompts),
                        ("test prompts", self.num_test_prompts),
                        ("max new tokens", self.max_new_tokens - 1),
                        ("max prompt tokens", self.max_prompt_tokens),
                        ("max skip blocks", self.max_skip_blocks), ("folds", self.folds - 1),
                        ("live calibration prompts", self.live_calibration_prompts)):
            if v < 1:
                raise UserError(f"{name} must be at least {1 if 'folds' not in name else 2}")
        if (self.kv_policy not in KV_POLICIES
                or not set(self.compare_kv_policies) <= set(KV_POLICIES)):
            raise UserError(f"KV policy must be one of {', '.join(KV_POLICIES)}")
        if self.action not in ACTIONS or not set(self.compare_actions) <= set(ACTIONS):
            raise UserError(f"action must be one of {', '.join(ACTIONS)}")
        if any(not 0 < f <= 1 for f in self.bank_fractions + self.learning_curve_fractions
               + self.ladder_fractions):
            raise UserError("bank, learning-curve and ladder fractions must be in (0, 1]")
        if self.held_out_from is not None and self.held_out_from < self.num_calibration_prompts:
            raise UserError("--held-out-from must not reach into the calibration prompts "
                            f"(at least {self.num_calibration_prompts})")
        if self.threshold_calibration not in THRESHOLD_CALIBRATIONS:
            raise UserError("threshold calibration must be one of "
                            f"{', '.join(THRESHOLD_CALIBRATIONS)}")
        if self.seed < 0:
            raise UserError(f"--seed must be at least 0, got {self.seed}")
        if any(n < 1 for n in self.static_layer_counts):
            raise UserError("static baseline layer counts must be at least 1")

    @property
    def all_targets(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.targets) | {self.target_agreement}))

    def to_dict(self) -> dict:
        return asdict(self)


# The quick preset: fewer, shorter prompts; two swept targets besides the main one.
QUICK = dict(num_calibration_prompts=12, num_test_prompts=6, max_prompt_tokens=128,
             max_new_tokens=32, targets=(0.8, 0.9), bank_fractions=(0.5, 1.0),
             static_layer_counts=(1, 2, 4, 6))
