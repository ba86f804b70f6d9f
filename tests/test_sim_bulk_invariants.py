"""The invariants the engine's bulk (per-batch array) updates rely on hold
after every step: under preemption, chunked prefill, skips, exits and the
deferred KV repair, on one GPU and on two."""

from __future__ import annotations

import pytest
from sim_helpers import make_trace

from simulator.config import SimConfig
from simulator.engine import Engine
from simulator.run import simulate

CASES = {
    "preemption + chunked prefill": dict(gpu_memory_bytes=int(0.525 * 2**30),
                                         chunked_prefill=True, prefill_chunk_tokens=48),
    "skips, exits, repair": dict(skip_options={"hit_rates": "0.4", "exit_prob": 0.3},
                                 kv_policy="repair", repair_batch_tokens=8),
    "two GPUs, host lookups": dict(num_gpus=2, lookup_placement="cpu",
                                   skip_options={"hit_rates": "0.3"}),
}


@pytest.mark.parametrize("case", CASES)
def test_bulk_invariants_hold_after_every_step(case, monkeypatch):
    checked = []
    finish = Engine._finish

    def checked_finish(self, step):
        finish(self, step)
        self.check_integrity()
        checked.append(step.block)

    monkeypatch.setattr(Engine, "_finish", checked_finish)
    n = 40
    trace = make_trace([0.05 * i for i in range(n)], [30 + 37 * (i % 7) for i in range(n)],
                       [5 + 11 * (i % 5) for i in range(n)])
    cfg = SimConfig(skip_model="parametric", checkpoints="6,6,6,6,6", kv_block_tokens=8,
                    **{"skip_options": {"hit_rates": "0.2"}, **CASES[case]})
    res = simulate(trace, cfg)
    assert res.engine.t.done.all() and len(checked) == res.stats.steps
    if case.startswith("preemption"):
        assert res.records["preemptions"].sum() > 0  # the case exercises what it names
