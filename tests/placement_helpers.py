"""Random placement instances for the planner's specification tests and benchmark."""

from __future__ import annotations

import numpy as np

from policies.placement.inputs import Affine, PlanInputs, RouterOption


def random_inputs(seed: int, num_layers: int, step: int = 1, num_options: int = 2,
                  max_landing: int = 4, batch: int = 1, min_agreement: float = 0.0,
                  bank_budget_entries: float = float("inf"), first: int = 2) -> PlanInputs:
    """Candidates every `step` layers from `first`; options with random hit rates,
    landings up to `max_landing` layers or an exit, errors, bank sizes and
    lookup costs comparable to a layer's."""
    rng = np.random.default_rng(seed)
    cands = tuple(range(first, num_layers, step))
    options = {}
    for c in cands:
        opts = []
        for k in range(num_options):
            lands = sorted({int(min(num_layers, c + d))
                            for d in rng.integers(1, max_landing + 1, size=2)} | {num_layers})
            p = rng.dirichlet(np.ones(len(lands)))
            entries = int(rng.choice([1000, 4000, 16000]))
            opts.append(RouterOption(
                key=f"o{k}", hit_prob=float(rng.uniform(0, 0.6)),
                error_prob=float(rng.uniform(0, 0.1)),
                landings=tuple((land, float(q)) for land, q in zip(lands, p)),
                bank_entries=entries,
                lookup=Affine(float(rng.uniform(0, 2e-4)),
                              float(rng.uniform(0, 1e-4)) * entries / 16000)))
        options[c] = tuple(opts)
    return PlanInputs(
        model="random", num_layers=num_layers, candidates=cands, options=options,
        layer=Affine(float(rng.uniform(2e-4, 1e-3)), float(rng.uniform(1e-5, 1e-4))),
        step_overhead_s=float(rng.uniform(0, 2e-4)),
        kv_projection=Affine(0.0, float(rng.uniform(0, 2e-5))), head_s=1e-3, batch=batch,
        entry_bytes=2312, bank_budget_bytes=bank_budget_entries * 2312,
        min_agreement=min_agreement)
