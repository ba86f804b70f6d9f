"""The cost model refitted on one load's executor runs, to be scored on the others.

The issue's rule: never fit on the run that is scored. `fit_on_load` fits
(`profiler.from_steps`: the layer, the LM head, the lookups and the per-step overhead)
on the first executor run of each given load, of every policy, and the
protocol scores the refit only at the other loads, whose runs it never saw.
Fitting on a light and a heavy load measures the batch slope; one light
load's batches of 1-3 left it to extrapolation (the refit on load 0.5 priced
loads 0.85 and 0.95 11-30% low). The fit
is cached under `fits/`, keyed by the runs it read (a run's folder name is
the hash of its flags, trace and code version).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def fit_on_load(loads: tuple[float, ...], reals: list[dict], folder: Path) -> dict:
    """{"path", "on", "runs", "fitted", "heldout"} of the fit on these runs' steps."""
    from profiler.fit_profile import FittedProfile
    from profiler.from_steps import fit_from_steps

    dirs = [Path(r["dir"]) for r in reals]
    policies = ", ".join(dict.fromkeys(r["config"]["config"]["sim"]["policy"] for r in reals))
    on = (f"load{'s' if len(loads) > 1 else ''} {', '.join(f'{x:g}' for x in loads)}, "
          f"repeat 0 ({policies})")
    key = hashlib.sha256("\n".join(d.name for d in dirs).encode()).hexdigest()[:16]
    path = folder / f"{key}.fit.json"
    if path.is_file():
        fitted = FittedProfile.load(path)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        fitted = fit_from_steps(dirs, source=f"validate {on}")  # the label says what it read
        fitted.source = str(path)
        fitted.save(path)
    heldout = {k: vars(f.heldout) for k, f in fitted.fits.items()
               if k in ("layer", "logits", "lookup/flat")}
    heldout["step_overhead"] = fitted.meta.get("steps_overhead_heldout")
    return {"path": str(path), "on": on, "runs": [str(d) for d in dirs], "fitted": fitted,
            "step_overhead_s": fitted.step_overhead_s, "heldout": heldout}
