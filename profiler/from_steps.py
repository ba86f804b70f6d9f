"""Fitting the cost model on a real run's step log (`simulate profile --from-steps`).

The per-layer profile times each kind of work alone, on an idle device. A
real run adds what that grid never sees: the executor's work outside the
kernels every step (arrivals, admission, scheduling, routing bookkeeping,
emitting tokens), and the machine as it is while serving. This refits the
cost model on the steps of `simulate execute` runs (`steps.parquet`, see
`executor/step_log.py`):

- `layer`: one decoder layer, the profile's linear form on the profile's
  features (`profiler.fit.block_features`), each piece's features times the
  layers it ran. The executor runs a mixed step as a prefill piece (every
  chunk of the step through the step's block: prefill tokens and query-key
  pairs) and a decode piece (the same block: decode sequences and their
  contexts), so the
  prefill and decode halves of mixed steps are priced from their measured
  times, in the steps they shared;
- `logits`: the LM head pieces (tokens), the profile's form;
- `step_overhead_s`: the mean over steps of the step's wall time less its
  pieces (the mean, not the median: a latency is a sum of steps);
- `lookup/*`: the routing decision's measured time (the faiss search with
  the similarity features and copies around it) per bank size and query
  count, the mean at each, as the profile's log-log table. A run has one
  bank size, so the refit prices every size at the measured one.

K/V projections and host copies stay the base profile's; a run priced by
the analytic roofline leaves them to the roofline.

Fitted as profiles are (relative residual, time never falls as work grows,
`profiler.monotone`), and held out the same way: a seeded quarter of the
steps is scored and never fitted; the fit kept is the one scored.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from profiler.fit import HeldOut, LinearFit, block_features, token_features
from profiler.fit_profile import ComponentFit, FittedProfile
from profiler.monotone import identified, nonneg_slope_lstsq
from skipsim.errors import UserError

HOLDOUT_FRACTION = 0.25
PIECES = ("prefill", "block")  # the kinds priced by the layer fit
NEEDED = ("step", "kind", "layers", "pairs", "tokens", "batch_size", "context_sum",
          "duration_s")


def read_steps(paths: list[Path]) -> pd.DataFrame:
    """The step logs, one frame; `run` numbers the file each row came from.
    A path may be a run folder (its steps.parquet)."""
    frames = []
    for run, path in enumerate(paths):
        path = Path(path)
        if path.is_dir():
            path = path / "steps.parquet"
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as err:
            raise UserError(f"{path}: not a step log ({type(err).__name__}: {err})") from None
        missing = [c for c in NEEDED if c not in frame.columns]
        if missing or not (frame["kind"] == "step").any():
            raise UserError(f"{path}: a step log without {', '.join(missing) or 'step rows'} "
                            "(written by an older executor): run `simulate execute` again")
        frames.append(frame.assign(run=run))
    return pd.concat(frames, ignore_index=True)


def test_steps(steps: pd.DataFrame, seed: int, fraction: float = HOLDOUT_FRACTION) -> set:
    """(run, step) keys of the held-out steps: a seeded `fraction` of them."""
    keys = sorted(set(zip(steps["run"].tolist(), steps["step"].tolist())))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(keys), size=int(round(fraction * len(keys))), replace=False)
    return {keys[i] for i in pick}


def piece_features(pieces: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-layer block features of prefill and decode-block pieces (see module doc)."""
    prefill = (pieces["kind"] == "prefill").to_numpy()
    num = lambda col: pieces[col].to_numpy(dtype=float)  # noqa: E731
    return block_features(np.where(prefill, num("tokens"), 0.0),
                          np.where(prefill, num("pairs"), 0.0),
                          np.where(prefill, 0.0, num("batch_size")),
                          np.where(prefill, 0.0, num("context_sum")))


def fit_layer(pieces: pd.DataFrame) -> LinearFit:
    """time(piece) = layers x layer(features): the profile's monotone relative
    least squares, its hinges identified on the per-layer features (a piece
    of 30 layers is one point of one layer's curve, not a point 30x further out)."""
    feats = piece_features(pieces)
    y = pieces["duration_s"].to_numpy(dtype=float)
    layers = pieces["layers"].to_numpy(dtype=float)
    names = [k for k, v in feats.items() if np.any(np.asarray(v) != 0)]
    cols = lambda keep: np.column_stack(  # noqa: E731
        [np.broadcast_to(feats[k], y.shape) for k in keep])
    names = identified(names, cols(names))
    x = cols(names) * layers[:, None]
    coef = nonneg_slope_lstsq(x / y[:, None], np.ones_like(y), names)
    return LinearFit(tuple(names), tuple(float(c) for c in coef),
                     float((y / layers).min() / 2))


def overheads(steps: pd.DataFrame, keys: tuple[str, ...] = ("run", "step")) -> pd.Series:
    """Per step (`keys`: per run and step of `read_steps`, or ("step",) for one
    run's log): the step's wall time less its pieces (s). The one definition of
    the per-step overhead: the refit's and validate's step level."""
    keys = list(keys)
    whole = steps["kind"] == "step"
    wall = steps[whole].groupby(keys)["duration_s"].sum()
    pieces = steps[~whole].groupby(keys)["duration_s"].sum()
    return wall - pieces.reindex(wall.index, fill_value=0.0)


def fit_steps(steps: pd.DataFrame, base: FittedProfile, seed: int = 0, source: str = "",
              device: str = "?") -> FittedProfile:
    """`base` with its layer and logits fits and its step overhead refitted on
    `steps` (a frame of `read_steps`, run on `device`). The base's attention
    and MLP halves go: they would no longer add up to its layer."""
    held = test_steps(steps, seed)
    is_test = np.array([k in held for k in zip(steps["run"], steps["step"])], dtype=bool)
    fits = {k: f for k, f in base.fits.items() if k not in ("attention", "mlp")}
    layer = steps["kind"].isin(PIECES).to_numpy() & (steps["layers"].to_numpy() > 0)
    train, test = steps[layer & ~is_test], steps[layer & is_test]
    if len(train) < 2:
        raise UserError(f"{source or 'the step log'}: too few prefill or decode steps to fit")
    model = fit_layer(train)
    layers_of = lambda part: part["layers"].to_numpy(dtype=float)  # noqa: E731
    fits["layer"] = ComponentFit(model, HeldOut.score(
        model.predict(piece_features(test)) * layers_of(test),
        test["duration_s"].to_numpy(), len(train)))
    head = (steps["kind"] == "lm_head").to_numpy()
    train, test = steps[head & ~is_test], steps[head & is_test]
    if len(train) >= 2:
        tok = lambda part: part["tokens"].to_numpy(dtype=float)  # noqa: E731
        model = LinearFit.fit(token_features(tok(train)), train["duration_s"].to_numpy())
        fits["logits"] = ComponentFit(model, HeldOut.score(
            model.predict(token_features(tok(test))), test["duration_s"].to_numpy(),
            len(train)))
    looked = (steps["kind"] == "lookup").to_numpy()
    if "bank_entries" in steps and (steps.loc[looked, "bank_entries"] > 0).any():
        table = fit_lookups(steps[looked & ~is_test], steps[looked & is_test])
        kinds = [k for k in fits if k.startswith("lookup/")] or ["lookup/flat"]
        for key in kinds:  # the run's own lookups, whatever index the base priced
            fits[key] = table
    over = overheads(steps)
    test_over = np.array([k in held for k in over.index], dtype=bool)
    step_overhead = float(max(over[~test_over].mean(), 0.0))
    base_label = ("the roofline cost model" if base.meta.get("base_cost_model")
                  else f"{base.label} ({base.source or 'profile'})")
    meta = {**base.meta, "fitted_on_steps": source or "a step log", "steps_device": device,
            "base_label": base_label, "grid": "executor steps",
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "wall_s": "-",
            "command": f"simulate profile --from-steps {source}",
            "steps_overhead_heldout": vars(HeldOut.score(
                np.full(int(test_over.sum()), step_overhead), over[test_over].to_numpy(),
                int((~test_over).sum())))}
    return FittedProfile(meta, fits, step_overhead, source, seed, grid=steps_grid(steps))


def fit_lookups(train: pd.DataFrame, test: pd.DataFrame) -> ComponentFit:
    """The routing decision's measured time per (bank entries, queries): the
    mean of the training pieces at each, as the profile's log-log table (one
    bank size measured: the same time at any size)."""
    from profiler.fit import LogLogTable

    mean = train.groupby(["bank_entries", "lookups"])["duration_s"].mean().reset_index()
    table = LogLogTable.fit(mean["bank_entries"], mean["lookups"], mean["duration_s"])
    predicted = table.predict(test["bank_entries"].to_numpy(), test["lookups"].to_numpy()) \
        if len(test) else np.zeros(0)
    return ComponentFit(table, HeldOut.score(predicted, test["duration_s"].to_numpy(),
                                             len(train)), "cpu")


def steps_grid(steps: pd.DataFrame) -> dict:
    """The extent of the fitted steps, as `layer_grid` keeps a profile's
    (a decode context per sequence is its piece's mean: the log keeps sums)."""
    pre, dec = steps[steps["kind"] == "prefill"], steps[steps["kind"] == "block"]
    top = lambda s: float(s.max()) if len(s) else 0.0  # noqa: E731
    return {"prefill_tokens": top(pre["tokens"]), "prefill_context": top(pre["context_sum"]),
            "decode_seqs": top(dec["batch_size"]),
            "decode_context": top(dec["context_sum"] / dec["batch_size"].clip(lower=1))}


def run_config(paths: list[Path]) -> dict:
    """The config.json of the first run (beside its steps.parquet), or {}."""
    first = Path(paths[0])
    path = (first if first.is_dir() else first.parent) / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def base_profile_of(config: dict, base: str | None) -> FittedProfile:
    """The profile the refit starts from: `base`, else the cost model the
    first run was priced with (the resolved file its config.json names; a run
    from before that was recorded is resolved again): its measured profile, or,
    where it ran on the roofline, an empty profile that leaves what it does
    not refit to the roofline (`base_cost_model`)."""
    from profiler.fitted import canonical_model, load_fitted, profile_path
    from profiler.resolve import auto_profile

    if base:
        return load_fitted(base)
    sim = config.get("config", {}).get("sim", {})
    model, chosen = sim.get("model", "smollm2"), sim.get("cost_model", "auto")
    recorded = config.get("labels", {}).get("cost_model_profile")
    if recorded is not None:  # the file the run was priced by ("": an analytic model)
        if recorded and not Path(recorded).is_file():
            raise UserError(f"the run was priced by {recorded}, which no longer exists: "
                            "pass --base PROFILE")
        chosen = recorded or "roofline"
    elif chosen in ("auto", "measured"):  # an older run: resolved again, as it would be now
        committed = (auto_profile(model, "cpu")[0] if chosen == "auto" else
                     profile_path(model, "cpu"))
        chosen = str(committed) if committed is not None and committed.is_file() else "roofline"
    if chosen != "roofline":
        return load_fitted(chosen)
    from skipsim.model_spec import model_spec

    meta = {"model": canonical_model(model), "num_layers": model_spec(model).num_layers,
            "device_name": sim.get("device", "cpu"),
            "threads": config.get("config", {}).get("torch_threads", "?"),
            "dtype": config.get("config", {}).get("dtype", "float32"),
            "device_kind": "cpu", "base_cost_model": "roofline"}
    return FittedProfile(meta, {}, 0.0, "roofline")


def fit_from_steps(paths: list[Path], base: str | None = None, seed: int = 0,
                   source: str | None = None) -> FittedProfile:
    config = run_config(paths)
    device = config.get("labels", {}).get("device", "?")
    fitted = fit_steps(read_steps(paths), base_profile_of(config, base), seed,
                       source or ", ".join(str(p) for p in paths), device)
    threads = config.get("config", {}).get("torch_threads")
    if threads is not None:  # the executor's, which the refit measured
        fitted.meta["threads"] = threads
    return fitted


def price_steps(steps: pd.DataFrame, fitted: FittedProfile) -> pd.DataFrame:
    """`steps` with `cost_model_s` repriced by `fitted`: prefill and decode-block
    pieces by its layer fit on the sums a piece's log keeps (`piece_features`,
    times its layers, as `MeasuredCostModel.block_time_s` prices the same
    sums); the LM head, the lookups (the executor's flat banks) and the
    per-step overhead by `MeasuredCostModel(profile=fitted)` itself, as the
    simulator prices them. K/V holes and repairs (whose rows hold no layer
    count) keep their price."""
    from profiler.fitted import MeasuredCostModel

    model = MeasuredCostModel(profile=fitted)
    out = steps.copy()
    price = out["cost_model_s"].to_numpy(dtype=float).copy()
    kind = out["kind"].to_numpy()
    layer = np.isin(kind, PIECES) & (out["layers"].to_numpy() > 0)
    if layer.any():
        part = out[layer]
        price[layer] = (fitted.fits["layer"].model.predict(piece_features(part))
                        * part["layers"].to_numpy(dtype=float))
    for m in np.flatnonzero(kind == "lm_head"):
        price[m] = model.lm_head_time_s(int(out["tokens"].iat[m]))
    if "bank_entries" in out and ("flat" in fitted.lookup_kinds()
                                  or fitted.meta.get("base_cost_model")):
        for m in np.flatnonzero(kind == "lookup"):
            price[m] = model.lookup_time_s(int(out["bank_entries"].iat[m]),
                                           int(out["lookups"].iat[m]))
    price[kind == "step"] = model.step_overhead_s
    out["cost_model_s"] = price
    return out
