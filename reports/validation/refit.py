"""The cost model refitted on one load's executor runs, to be scored on the others.

The issue's rule: never fit on the run that is scored. `fit_on_load` fits
(`profiler.from_steps`: the layer, the LM head, the lookups and the per-step overhead)
on the first executor run of one load, of every policy, and the protocol
scores the refit only at the other loads, whose runs it never saw. The fit
is cached under `fits/`, keyed by the runs it read (a run's folder name is
the hash of its flags, trace and code version).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def fit_on_load(load: float, reals: list[dict], folder: Path) -> dict:
    """{"path", "on", "fitted", "heldout"} of the fit on these runs' steps."""
    from profiler.fit_profile import FittedProfile
    from profiler.from_steps import fit_from_steps

    dirs = [Path(r["dir"]) for r in reals]
    policies = ", ".join(r["config"]["config"]["sim"]["policy"] for r in reals)
    on = f"load {load:g}, repeat 0 ({policies})"
    key = hashlib.sha256("\n".join(d.name for d in dirs).encode()).hexdigest()[:16]
    path = folder / f"{key}.fit.json"
    if path.is_file():
        fitted = FittedProfile.load(path)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        fitted = fit_from_steps(dirs, source=f"validate {on}")  # the label says what it read
        fitted.source = str(path)
        tmp = path.with_suffix(".tmp")
        fitted.save(tmp)
        tmp.replace(path)
    heldout = {k: vars(f.heldout) for k, f in fitted.fits.items()
               if k in ("layer", "logits", "lookup/flat")}
    heldout["step_overhead"] = fitted.meta.get("steps_overhead_heldout")
    return {"path": str(path), "on": on, "fitted": fitted,
            "step_overhead_s": fitted.step_overhead_s, "heldout": heldout}
