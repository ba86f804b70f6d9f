"""`simulate profile --show FILE`: the fitted cost model in words and numbers.

Prints what was measured where, each component's fitted form with its
held-out error (points the fit never saw), and, where the simulator's analytic
roofline (`profiler.roofline`) is present, how far it is from the measurement.
"""

from __future__ import annotations

import numpy as np

from profiler.fit import LinearFit
from profiler.fit_profile import ComponentFit, FittedProfile, fit_profile
from profiler.fitted import load_fitted
from skipsim.errors import UserError

TITLES = {
    "layer": "block time, per decoder layer",
    "attention": "attention half (norm + attention + residual), per layer",
    "mlp": "MLP half (norm + MLP + residual), per layer",
    "kv_projection": "K/V projection alone (project KV-hole policy), per layer",
    "logits": "embeddings + final norm + LM head + argmax",
    "copy_d2h": "queries device -> host",
    "copy_h2d": "results host -> device",
}


def _formula(model) -> str:
    if isinstance(model, LinearFit):
        terms = [f"{c:+.3e}" + ("" if k == "one" else f"*[{k}]")
                 for k, c in zip(model.features, model.coef)]
        return "t_s = " + " ".join(terms)
    sizes = sorted(set(model.entries))
    return (f"log-log interpolation over {len(model.seconds)} points: banks "
            f"{sizes[0]:,}..{sizes[-1]:,}, queries {min(model.queries)}..{max(model.queries)}")


def _heldout(fit: ComponentFit) -> str:
    h = fit.heldout
    if not h.n_test:
        return f"held-out: no interior points to test (fit on {h.n_train})"
    return (f"held-out median APE {h.median_ape:.1f}% (p90 {h.p90_ape:.1f}%, max "
            f"{h.max_ape:.1f}%) on {h.n_test} unseen points; fit on {h.n_train}")


def format_fitted(fitted: FittedProfile) -> str:
    m = fitted.meta
    lines = [
        f"profile: {fitted.source or '(in memory)'}  grid {m.get('grid', '?')}, "
        f"measured in {m.get('wall_s', '?')} s on {m.get('date_utc', '?')}",
        f"  {fitted.label}",
        f"  device {m.get('device', '?')} ({m.get('cpu_cores', '?')} cores), torch "
        f"{m.get('torch_version', '?')}, faiss {m.get('faiss_version', '?')}"
        f"{' (GPU build)' if m.get('faiss_gpu') else ''}",
    ]
    if m.get("command"):
        lines.append(f"  made by: {m['command']}")
    for key, fit in fitted.fits.items():
        title = TITLES.get(key) or f"bank lookup, {key.split('/', 1)[1]} index ({fit.where})"
        lines += [f"{key}: {title}", f"  {_formula(fit.model)}", f"  {_heldout(fit)}"]
    lines.append(f"step_overhead: {fitted.step_overhead_s * 1e3:.3f} ms per step")
    return "\n".join(lines)


def roofline_gap(fitted: FittedProfile, table_rows=None) -> str:
    """How far the analytic roofline is from the measured layer and lookup rows."""
    import profiler.roofline  # noqa: F401  (registers "roofline")
    from profiler.cost_model import COST_MODELS, BatchShape

    if table_rows is None:
        return "roofline vs measured: needs the profile table (.csv/.parquet), not a fit"
    from skipsim.model_spec import model_spec

    try:
        spec = model_spec(fitted.meta["model"])
        roof = COST_MODELS["roofline"](spec=spec.with_dtype_bytes(
            4 if fitted.meta["dtype"] == "float32" else 2), device=fitted.meta["device_kind"])
    except (UserError, KeyError) as err:  # a model, device or dtype the roofline cannot price
        return f"roofline vs measured: cannot build the roofline here ({type(err).__name__}: {err})"
    out = [f"roofline vs measured ({roof.label}; ratio analytic / measured on every "
           "profiled point):"]
    layer = table_rows[table_rows["component"] == "layer"]
    ratios = []
    for r in layer.itertuples():
        shape = (BatchShape(prefill_chunks=((r.tokens, 0),)) if r.phase == "prefill"
                 else BatchShape(decode_context_lens=(r.context,) * r.batch))
        ratios.append(roof.block_time_s(1, shape) / r.median_s)
    lookups = table_rows[(table_rows["component"] == "lookup") & (table_rows["index"] == "flat")]
    lratios = [roof.lookup_time_s(r.bank_entries, r.num_queries) / r.median_s
               for r in lookups.itertuples()]
    for name, rs in (("block time", ratios), ("flat lookup", lratios)):
        if rs:
            a = np.asarray(rs)
            out.append(f"  {name}: median ratio {np.median(a):.2f}, median APE "
                       f"{np.median(np.abs(a - 1)) * 100:.0f}% over {len(a)} points")
    return "\n".join(out)


KEYS = ["component", "phase", "index", "tokens", "batch", "context", "bank_entries",
        "num_queries"]


def repeatability(path, other) -> str:
    """Median APE between two profiles at the points both measured: the
    measurement's own test-retest noise, the floor under any fit's error."""
    from profiler.profile_table import ProfileTable

    a, b = ProfileTable.load(path).rows, ProfileTable.load(other).rows
    both = a.merge(b, on=KEYS, suffixes=("", "_other"))
    both = both[both["component"] != "step_overhead"]
    if both.empty:
        return f"repeatability vs {other}: no points in common"
    err = 100 * (both["median_s_other"] - both["median_s"]).abs() / both["median_s"]
    group = both["component"].where(both["component"] != "lookup", "lookup/" + both["index"])
    lines = [f"repeatability vs {other} (median APE of the same points measured twice):"]
    for name, e in err.groupby(group):
        lines.append(f"  {name:<14} {e.median():5.1f}% over {len(e)} points")
    return "\n".join(lines)


def show_profile(path) -> str:
    from pathlib import Path

    from profiler.profile_table import SUFFIXES, ProfileTable

    if Path(path).suffix in SUFFIXES:
        table = ProfileTable.load(path)
        fitted, rows = fit_profile(table, source=str(path)), table.rows
    else:
        fitted, rows = load_fitted(path), None
    return format_fitted(fitted) + "\n" + roofline_gap(fitted, rows)
