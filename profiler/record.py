"""Measuring a whole profile: the model's layers and the bank lookups on one device.

`record_profile` loads the real model, fixes the thread count, walks the grid
with one progress bar (tqdm, on stderr) and returns a `ProfileTable` whose
metadata says exactly what was measured and how to measure it again.
`parts` picks what is measured (`PARTS`: layers, overhead, lookups);
`merge_parts` puts such a partial measurement into an existing profile of
the same device (`simulate profile --only PARTS --out EXISTING`): its rows
of those parts are replaced, the rest kept, and the metadata lists the update.
With the layers (the layer-side rows: layers, K/V projection, LM head) the
metadata records how their caches were left (`layer_caches`) and the
machine-speed probe taken beside them (`speed_probe`, `profiler.speed_probe`),
the reference `simulate validate` reads the machine's speed against.
"""

from __future__ import annotations

import dataclasses
import time

from tqdm import tqdm

from profiler import layer_profile, lookup_profile, speed_probe, step_overhead
from profiler.grid import ProfileGrid
from profiler.hardware import device_facts, resolve_device
from profiler.profile_table import ProfileTable
from profiler.timing import clock_name, set_threads
from skipsim.errors import UserError

PARTS = ("layers", "overhead", "lookups")
# the profile components each part measures
PART_COMPONENTS = {"layers": ("layer", "attention", "mlp", "kv_projection", "logits"),
                   "overhead": ("step_overhead",),
                   "lookups": ("lookup", "copy_d2h", "copy_h2d")}
# metadata that must agree before a partial measurement joins a profile
SAME_DEVICE = ("model", "dtype", "device_kind", "device_name", "threads")


def record_profile(model_name: str, device: str, grid: ProfileGrid, threads: int | None = None,
                   dtype: str = "float32", command: str = "",
                   parts: tuple[str, ...] = PARTS) -> ProfileTable:
    from skipsim.model_loader import load_model

    device = resolve_device(device)
    threads = set_threads(threads)
    started = time.perf_counter()
    model, _ = load_model(model_name, dtype=dtype, device=device)
    cfg = model.config
    total = ((layer_profile.count_points(grid) if "layers" in parts else 0)
             + ("overhead" in parts)
             + (lookup_profile.count_points(grid) * 2 if "lookups" in parts else 0))
    with tqdm(total=total, desc="profile", unit="pt", leave=False) as bar:
        def progress(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        rows, layer_meta = [], {}
        if "layers" in parts:
            layer_meta = layer_facts(model, grid, device)
            rows += layer_profile.profile_layers(model, grid, device, progress)
            probe = layer_meta["speed_probe"]
            probe["after_s"] = speed_probe.probe_s(device)
            probe["reference_s"] = (probe["before_s"] + probe["after_s"]) / 2
        if "overhead" in parts:
            progress("step overhead: the executor's loop")
            rows += step_overhead.profile_step_overhead(model, model_name, grid, device, dtype)
        settings = lookup_profile.IndexSettings()
        if "lookups" in parts:
            rows += lookup_profile.profile_lookups(grid, device, cfg.hidden_size, settings,
                                                   progress=progress)
    meta = {
        "model": model_name,
        "num_layers": cfg.num_hidden_layers,
        "hidden_size": cfg.hidden_size,
        "dtype": dtype,
        "grid": grid.name,
        "timing": dataclasses.asdict(grid.timing),
        "index_settings": dataclasses.asdict(settings),
        "bank_vectors": "random unit Gaussian directions (see profiler/lookup_profile.py)",
        "lookup_timed": lookup_profile.LOOKUP_TIMED,
        "layer_timed": grid.layer_index,
        "block_layers": grid.block_layers,
        "clock": clock_name(device, threads),
        "command": command,
        "parts": list(parts),
        "wall_s": round(time.perf_counter() - started, 1),
        **layer_meta,
        **device_facts(device, threads),
    }
    return ProfileTable.from_records(rows, meta)


LAYER_META = ("layer_caches", "speed_probe")  # what the layer rows' metadata says


def layer_facts(model, grid: ProfileGrid, device: str) -> dict:
    """How the layer-side rows are timed (cold or warm caches, bytes streamed
    per kind) and the speed probe before them (`record_profile` adds one after
    and keeps their mean as the reference)."""
    bench = layer_profile.LayerBench(model, device, grid.layer_index, grid.block_layers)
    caches = ({"cold": True, "evict_bytes": layer_profile.evict_bytes(bench, device),
               "how": "each call timed alone after the rest of the model's weights streamed "
                      "(profiler.cold_cache)"}
              if grid.cold_layers else {"cold": False, "how": "a tight loop"})
    return {"layer_caches": caches,
            "speed_probe": {"op": speed_probe.OP, "before_s": speed_probe.probe_s(device)}}


def merge_parts(base: ProfileTable, new: ProfileTable) -> ProfileTable:
    """`base` with the rows of `new`'s parts replaced by `new`'s; refused
    (one line) when the two were not measured on the same device and model."""
    import pandas as pd

    differ = [k for k in SAME_DEVICE if base.meta.get(k) != new.meta.get(k)]
    if differ:
        raise UserError("--only re-measures part of a profile of this device: the existing "
                        "profile differs in " + ", ".join(
                            f"{k} ({base.meta.get(k)!r} vs {new.meta.get(k)!r})" for k in differ))
    parts = new.meta["parts"]
    replaced = [c for p in parts for c in PART_COMPONENTS[p]]
    rows = pd.concat([base.rows[~base.rows["component"].isin(replaced)], new.rows],
                     ignore_index=True)
    meta = dict(base.meta)
    if "lookups" in parts:  # what the new lookup rows mean
        for key in ("index_settings", "lookup_timed", "bank_vectors"):
            meta[key] = new.meta[key]
    if "layers" in parts:  # how the new layer rows were timed, and the machine's speed then
        for key in LAYER_META:
            meta[key] = new.meta.get(key)
    update = {k: new.meta.get(k) for k in ("parts", "command", "date_utc", "wall_s", "grid",
                                       "torch_version", "faiss_version")}
    meta["updates"] = [*base.meta.get("updates", []), update]
    return ProfileTable(rows, meta)
