"""`plan.json`: a placement as a file, read by `simulate run --plan` (and the executor).

It holds the boundaries, each router's operating point (a SkipProfile key:
a target such as "0.9", or "bank:0.5") and bank entries, the number of GPUs
(pipeline stages) it was planned on (`num_gpus`; 1 in plans written before
it existed), the inputs it was
planned from (cost-model label, profile path, agreement floor, batch,
device, transfer note) and the planner's prediction. The skip figures of the
chosen routers are embedded (for a transferred profile, at the target
model's layers), so the file alone reproduces the plan's skip behaviour.
`load_plan(path, spec)` is the one entry point: it refuses a plan made for
another model or layer count with one line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from policies.placement.stages import checkpoints_of
from profiler.calibration.skip_profile import SCHEMA as PROFILE_SCHEMA
from profiler.calibration.skip_profile import SkipProfile
from skipsim.errors import UserError
from skipsim.model_spec import ModelSpec

SCHEMA = "skipsim.plan/1"


@dataclass(frozen=True)
class RouterChoice:
    layer: int
    operating_point: str   # SkipProfile key: "0.9" (target) or "bank:0.5" (bank sweep)
    bank_entries: int


@dataclass(frozen=True)
class PlanChoice:
    model: str
    num_layers: int
    boundaries: tuple[int, ...]
    routers: tuple[RouterChoice, ...]
    inputs: dict = field(default_factory=dict)      # what it was planned from
    predicted: dict = field(default_factory=dict)   # the planner's figures
    skip_profile: SkipProfile | None = None         # figures of the chosen routers
    num_gpus: int = 1                               # pipeline stages it was planned on

    @property
    def checkpoints(self) -> str:
        """Boundaries as `--checkpoints` takes them."""
        return checkpoints_of(self.boundaries)

    @property
    def operating_points(self) -> dict[int, str]:
        return {r.layer: r.operating_point for r in self.routers}

    @property
    def bank_entries(self) -> tuple[int, ...]:
        """Entries per inner checkpoint, in order."""
        return tuple(r.bank_entries for r in self.routers)


def write_plan(choice: PlanChoice, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"schema": SCHEMA, **{k: v for k, v in asdict(choice).items() if k != "skip_profile"}}
    if choice.skip_profile is not None:
        keep = {r.layer for r in choice.routers}
        prof = replace(choice.skip_profile,
                       checkpoints=[c for c in choice.skip_profile.checkpoints if c.layer in keep],
                       static_baseline=[])
        data["skip_profile"] = {"schema": PROFILE_SCHEMA, **asdict(prof)}
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def is_plan_file(path: str | Path) -> bool:
    try:
        with open(path) as f:
            return f'"schema": "{SCHEMA}"' in f.read(200)
    except OSError:
        return False


def read_plan(path: str | Path) -> PlanChoice:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"plan file {path} does not exist")
    try:
        raw = json.loads(path.read_text())
        if raw.pop("schema", None) != SCHEMA:
            raise ValueError(f"not a {SCHEMA} file")
        prof = raw.pop("skip_profile", None)
        profile = None
        if prof is not None:
            profile = _profile_from_dict(prof)
        routers = tuple(RouterChoice(int(r["layer"]), str(r["operating_point"]),
                                     int(r["bank_entries"])) for r in raw.pop("routers"))
        choice = PlanChoice(model=str(raw["model"]), num_layers=int(raw["num_layers"]),
                            boundaries=tuple(int(b) for b in raw["boundaries"]), routers=routers,
                            inputs=dict(raw.get("inputs", {})),
                            predicted=dict(raw.get("predicted", {})), skip_profile=profile,
                            num_gpus=int(raw.get("num_gpus", 1)))
    except (ValueError, TypeError, KeyError) as err:
        raise UserError(f"plan file {path} is malformed: {err}") from None
    if choice.num_gpus < 1:
        raise UserError(f"plan file {path}: num_gpus must be at least 1, got {choice.num_gpus}")
    if [r.layer for r in choice.routers] != list(choice.boundaries[1:-1]):
        raise UserError(f"plan file {path}: routers {[r.layer for r in choice.routers]} do not "
                        f"match the inner boundaries {list(choice.boundaries[1:-1])}")
    return choice


def _profile_from_dict(data: dict) -> SkipProfile:
    """SkipProfile.load's parsing, on a dict already in memory."""
    from profiler.calibration.skip_profile import CheckpointProfile, CheckpointStats

    raw = dict(data)
    if raw.pop("schema", None) != PROFILE_SCHEMA:
        raise ValueError("the embedded skip profile has no schema")
    stats = lambda d: {k: CheckpointStats(**v) for k, v in d.items()}  # noqa: E731
    raw["checkpoints"] = [
        CheckpointProfile(**{**c, "by_target": stats(c["by_target"]),
                             "by_bank_fraction": stats(c.get("by_bank_fraction", {}))})
        for c in raw["checkpoints"]]
    return SkipProfile(**raw)


def load_plan(path: str | Path, spec: ModelSpec) -> PlanChoice:
    """The plan at `path`, checked to be for `spec` (same model and layer count)."""
    choice = read_plan(path)
    if choice.num_layers != spec.num_layers or choice.model != spec.name:
        raise UserError(f"plan {path} is for {choice.model} ({choice.num_layers} layers), "
                        f"not {spec.name} ({spec.num_layers} layers)")
    return choice
