"""Long runs fold the engine's lookup/hit logs into the per-request totals
as they go (bounded memory); folding often must give exactly the records of
folding once at the end (np.add.at adds in log order either way)."""

import math

import numpy as np

import simulator.engine as engine
from simulator.config import SimConfig
from simulator.run import simulate
from traces.trace import Trace


def _run():
    rng = np.random.default_rng([15, 1])
    n = 60
    trace = Trace(np.arange(n), np.sort(rng.uniform(0, 2.0, n)), rng.integers(5, 200, n),
                  rng.integers(2, 40, n), [None] * n)
    cfg = SimConfig(skip_model="parametric", skip_options={"hit_rates": "0.3"}, seed=4)
    return simulate(trace, cfg)


def test_folding_every_batch_matches_folding_at_the_end(monkeypatch):
    once = _run()
    folds = []
    flush = engine.Engine.flush_logs
    monkeypatch.setattr(engine, "LOG_FOLD_LOOKUPS", 1)
    monkeypatch.setattr(engine.Engine, "flush_logs", lambda self: folds.append(1) or flush(self))
    often = _run()
    assert len(folds) > 10  # it did fold along the way
    assert int(once.records["lookups"].sum()) > 0 and int(once.records["hits"].sum()) > 0
    for col, a in once.records.items():
        a, b = np.asarray(a), np.asarray(often.records[col])
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), col
    assert math.isclose(once.stats.end_s, often.stats.end_s, rel_tol=0, abs_tol=0)
