"""The simulator charges each KV-hole policy what the policy object says:
with every decode token skipping deterministically, the GPU time of
`project` exceeds that of the free policies by exactly the projections of
every skipped layer, and a deferring policy's repair steps recompute them."""

import numpy as np
import pytest
from sim_helpers import PerTokenCost, run_with

from traces.loaders import TraceConfig, load_trace

PROJECTION_S = 1e-5  # per token and layer
SKIP_ALL = dict(checkpoints="10,10,10", policy="deepest-first", skip_model="parametric",
                skip_options={"hit_rates": "1", "p_change": "0"})  # block 0 runs, then exit


class ProjectingCost(PerTokenCost):
    def kv_projection_time_s(self, num_tokens, num_layers):
        return PROJECTION_S * num_tokens * num_layers


def _run(kv_policy, monkeypatch):
    trace = load_trace("uniform", TraceConfig(num_prompts=20, request_rate_per_s=100.0, seed=1,
                                              prompt_tokens=64, output_tokens=16))
    return run_with(ProjectingCost(1e-4), trace, monkeypatch, kv_policy=kv_policy, **SKIP_ALL)


def test_project_pays_the_projections_of_every_skipped_layer(monkeypatch):
    runs = {p: _run(p, monkeypatch) for p in ("project", "copy", "none")}
    decode_tokens = int((runs["copy"].records["output_tokens"] - 1).sum())
    skipped = runs["copy"].records["layers_skipped"]
    assert skipped.sum() == 20 * decode_tokens  # layers 10..29 of every decode token
    busy = {p: sum(r.stats.busy_s) for p, r in runs.items()}
    assert busy["copy"] == pytest.approx(busy["none"])  # both free
    assert busy["project"] - busy["copy"] == pytest.approx(PROJECTION_S * 20 * decode_tokens)


def test_repair_owes_the_skipped_layers_and_settles_them_in_repair_steps(monkeypatch):
    repair, free = _run("repair", monkeypatch), _run("none", monkeypatch)
    assert repair.stats.steps > free.stats.steps  # the repair steps
    assert sum(repair.stats.busy_s) > sum(free.stats.busy_s)
    # the run ends with the last token; what is still owed belongs to
    # finished requests, whose K/V are gone: settling it repairs nothing
    t = repair.engine.t
    assert all(len(s.ids) == 0 for s in repair.engine.repair_debt.settle(t.running, t.admit_seq))
    np.testing.assert_array_equal(repair.records["layers_skipped"],
                                  free.records["layers_skipped"])
