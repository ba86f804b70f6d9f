"""Fitting every component of a profile and keeping its held-out error.

For each component the profile's grid is split by `holdout_mask`, the form
of `profiler.fit` is fitted to the training rows only, and the test rows are
scored; the fit kept (and saved) is exactly the one that was scored, so the
reported error is the error of the model the simulator uses.

Components: `layer` (one whole decoder layer: the block-time model),
`attention` and `mlp` (the halves, for inspection), `kv_projection`
(one layer), `logits` (embeddings + final norm + LM head), `lookup/<index>`
per faiss index kind, `copy_d2h`/`copy_h2d` on a GPU, and the constant
`step_overhead_s`.

`grid` keeps the extent of the measured layer grid (largest prefill, its
context, largest decode batch, longest decode context) so the cost model can
count the steps it prices by extrapolation. A saved fit whose linear forms
are not monotone (made before fits were constrained) is refused: refit it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from profiler.fit import (
    HeldOut,
    LinearFit,
    LogLogTable,
    fit_from_dict,
    holdout_mask,
    layer_rows_features,
    token_features,
)
from profiler.profile_table import ProfileTable, profile_label
from skipsim.errors import UserError

FIT_FORMAT = "skipsim-fitted-profile/1"
BLOCK_COMPONENTS = ("layer", "attention", "mlp")
TOKEN_COMPONENTS = ("kv_projection", "logits", "copy_d2h", "copy_h2d")


@dataclass(frozen=True)
class ComponentFit:
    model: LinearFit | LogLogTable
    heldout: HeldOut
    where: str = ""  # lookups: "cpu" or "gpu", where the bank was searched


@dataclass
class FittedProfile:
    meta: dict
    fits: dict[str, ComponentFit]
    step_overhead_s: float
    source: str = ""
    seed: int = 0
    extra: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)  # see layer_grid

    @property
    def label(self) -> str:
        m = self.meta
        if m.get("fitted_on_steps"):  # profiler.from_steps
            return (f"refitted on executor steps ({m['fitted_on_steps']}; "
                    f"{m.get('steps_device', '?')}, {m['threads']} thread(s), {m['model']} "
                    f"{m['dtype']}): layer, LM head, lookups, step overhead; the rest: "
                    f"{m.get('base_label', '?')}")
        return profile_label(m)

    def lookup_kinds(self) -> list[str]:
        return sorted(k.split("/", 1)[1] for k in self.fits if k.startswith("lookup/"))

    # ----- file round trip ------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FIT_FORMAT, "meta": self.meta, "source": self.source,
                "seed": self.seed, "step_overhead_s": self.step_overhead_s, "grid": self.grid,
                "fits": {k: {"model": f.model.to_dict(), "heldout": vars(f.heldout),
                             "where": f.where} for k, f in self.fits.items()}}

    def save(self, path: str | Path) -> Path:
        """Written beside and renamed over `path`, so an interrupted save never
        leaves a half-written fit where a later run would read it."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, d: dict, origin: str = "fit") -> FittedProfile:
        try:
            if d.get("format") != FIT_FORMAT:
                raise UserError(f"{origin}: not a fitted profile (format "
                                f"{d.get('format')!r}, expected {FIT_FORMAT!r})")
            fits = {k: ComponentFit(fit_from_dict(v["model"]), HeldOut(**v["heldout"]),
                                    v.get("where", "")) for k, v in d["fits"].items()}
            grid = {k: float(v) for k, v in d.get("grid", {}).items()}
            fitted = cls(d["meta"], fits, float(d["step_overhead_s"]), d.get("source", ""),
                         int(d.get("seed", 0)), grid=grid)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise UserError(f"{origin}: malformed fitted profile ({type(err).__name__}: "
                            f"{err})") from None
        falling = [k for k, f in fitted.fits.items()
                   if isinstance(f.model, LinearFit) and not f.model.monotone]
        if falling:
            raise UserError(f"{origin}: the fit of {', '.join(falling)} falls as work grows "
                            "(saved before fits were constrained): refit it with "
                            "`simulate profile --show PROFILE --save-fit FILE`")
        return fitted

    @classmethod
    def load(cls, path: str | Path) -> FittedProfile:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"fitted profile {path} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: not a fitted profile")
        return cls.from_dict(data, str(path))


def layer_grid(rows: pd.DataFrame) -> dict:
    """The extent of the measured decoder-layer grid (tokens; 0 where a phase is absent)."""
    layer = rows[rows["component"] == "layer"]
    pre, dec = layer[layer["phase"] == "prefill"], layer[layer["phase"] == "decode"]
    top = lambda frame, col: float(frame[col].max()) if len(frame) else 0.0  # noqa: E731
    return {"prefill_tokens": top(pre, "tokens"), "prefill_context": top(pre, "context"),
            "decode_seqs": top(dec, "batch"), "decode_context": top(dec, "context")}


def _fit_scored(make_fit, predict, axes: pd.DataFrame, measured: np.ndarray, seed: int,
                groups=None):
    test = holdout_mask(axes, seed=seed, groups=groups)
    model = make_fit(~test)
    held = HeldOut.score(predict(model, test), measured[test], int((~test).sum()))
    return model, held


def fit_profile(table: ProfileTable, seed: int = 0, source: str = "") -> FittedProfile:
    rows = table.rows
    fits: dict[str, ComponentFit] = {}
    for comp in BLOCK_COMPONENTS:
        sub = rows[rows["component"] == comp].reset_index(drop=True)
        if sub.empty:
            continue
        feats = layer_rows_features(sub)
        y = sub["median_s"].to_numpy()
        model, held = _fit_scored(
            lambda train: LinearFit.fit({k: v[train] for k, v in feats.items()}, y[train]),
            lambda m, test: m.predict({k: v[test] for k, v in feats.items()}),
            sub[["tokens", "context"]], y, seed, groups=sub["phase"])
        fits[comp] = ComponentFit(model, held)
    for comp in TOKEN_COMPONENTS:
        sub = rows[rows["component"] == comp].reset_index(drop=True)
        if sub.empty:
            continue
        x = sub["num_queries" if comp.startswith("copy") else "tokens"].to_numpy()
        y = sub["median_s"].to_numpy()
        model, held = _fit_scored(
            lambda train: LinearFit.fit(token_features(x[train]), y[train]),
            lambda m, test: m.predict(token_features(x[test])),
            pd.DataFrame({"x": x}), y, seed)
        fits[comp] = ComponentFit(model, held)
    lookups = rows[rows["component"] == "lookup"]
    for kind, sub in lookups.groupby("index"):
        sub = sub.reset_index(drop=True)
        n, q = sub["bank_entries"].to_numpy(), sub["num_queries"].to_numpy()
        y = sub["median_s"].to_numpy()
        model, held = _fit_scored(
            lambda train: LogLogTable.fit(n[train], q[train], y[train]),
            lambda m, test: m.predict(n[test], q[test]),
            sub[["bank_entries", "num_queries"]], y, seed)
        fits[f"lookup/{kind}"] = ComponentFit(model, held, str(sub["where"].iloc[0]))
    over = rows[rows["component"] == "step_overhead"]["median_s"]
    if "layer" not in fits:
        raise UserError(f"{source or 'profile'}: has no decoder-layer timings to fit")
    return FittedProfile(dict(table.meta), fits, float(over.median()) if len(over) else 0.0,
                         source, seed, grid=layer_grid(rows))
