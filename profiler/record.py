"""Measuring a whole profile: the model's layers and the bank lookups on one device.

`record_profile` loads the real model, fixes the thread count, walks the grid
with one progress bar (tqdm, on stderr) and returns a `ProfileTable` whose
metadata says exactly what was measured and how to measure it again.
"""

from __future__ import annotations

import dataclasses
import time

from tqdm import tqdm

from profiler import layer_profile, lookup_profile
from profiler.grid import ProfileGrid
from profiler.hardware import device_facts, resolve_device
from profiler.profile_table import ProfileTable
from profiler.timing import clock_name, set_threads


def record_profile(model_name: str, device: str, grid: ProfileGrid, threads: int | None = None,
                   dtype: str = "float32", command: str = "",
                   lookups: bool = True) -> ProfileTable:
    from skipsim.model_loader import load_model

    device = resolve_device(device)
    threads = set_threads(threads)
    started = time.perf_counter()
    model, _ = load_model(model_name, dtype=dtype, device=device)
    cfg = model.config
    total = layer_profile.count_points(grid) + (lookup_profile.count_points(grid) * 2
                                                if lookups else 0)
    with tqdm(total=total, desc="profile", unit="pt", leave=False) as bar:
        def progress(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        rows = layer_profile.profile_layers(model, grid, device, progress)
        settings = lookup_profile.IndexSettings()
        if lookups:
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
        "layer_timed": grid.layer_index,
        "block_layers": grid.block_layers,
        "clock": clock_name(device, threads),
        "command": command,
        "wall_s": round(time.perf_counter() - started, 1),
        **device_facts(device, threads),
    }
    return ProfileTable.from_records(rows, meta)
