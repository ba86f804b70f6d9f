"""The fits recover known cost functions, and held-out error is scored only on
points the fit never saw."""

import numpy as np
import pandas as pd
import pytest

from profiler.fit import (
    HeldOut,
    LinearFit,
    LogLogTable,
    ape,
    block_features,
    holdout_mask,
    layer_rows_features,
)
from profiler.fit_profile import fit_profile
from profiler.profile_table import ProfileTable

# A known per-layer cost (seconds): weights read once, per-token GEMMs whose
# slopes change at some octaves, causal attention pairs, decode K/V reads.
TRUE = {"one": 1e-3, "prefill_tokens": 4e-5, "prefill_tokens>64": -1e-5,
        "prefill_tokens>256": 5e-6, "prefill_pairs": 2e-8, "decode_seqs": 6e-5,
        "decode_seqs>8": -3e-5, "decode_seqs>32": 1e-5, "decode_context": 3e-9}


def true_layer_s(f):
    return sum(c * np.asarray(f[k], dtype=float) for k, c in TRUE.items())



def synthetic_rows(noise=0.0, seed=1):
    """Layer rows on the profile's grid, timed by TRUE (times optional noise)."""
    rng = np.random.default_rng(seed)
    recs = [dict(component="layer", phase="prefill", tokens=n, batch=1, context=n)
            for n in (16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 724, 1024, 1448, 2048)]
    recs += [dict(component="layer", phase="decode", tokens=b, batch=b, context=c)
             for b in (1, 2, 4, 8, 16, 32, 64, 128, 256) for c in (128, 256, 512, 1024, 2048)]
    rows = pd.DataFrame(recs)
    y = true_layer_s(layer_rows_features(rows))
    rows["median_s"] = y * (1 + noise * rng.standard_normal(len(y)))
    return rows


def test_linear_fit_recovers_a_known_block_cost_exactly():
    rows = synthetic_rows()
    fit = LinearFit.fit(layer_rows_features(rows), rows["median_s"].to_numpy())
    coef = dict(zip(fit.features, fit.coef))
    for name in set(coef) | set(TRUE):
        assert coef.get(name, 0.0) == pytest.approx(TRUE.get(name, 0.0), rel=1e-6, abs=1e-12)


def test_linear_fit_prices_an_unseen_mixed_batch_as_the_sum_of_its_terms():
    rows = synthetic_rows()
    fit = LinearFit.fit(layer_rows_features(rows), rows["median_s"].to_numpy())
    # 100 prefill tokens after 50 cached + 7 decodes of context 300
    f = block_features(100, 100 * 50 + 100 * 101 / 2, 7, 7 * 300)
    assert fit.predict(f)[()] == pytest.approx(true_layer_s(f), rel=1e-9)


def test_noisy_fit_stays_within_the_noise_on_held_out_points():
    rows = synthetic_rows(noise=0.02)
    test = holdout_mask(rows[["tokens", "context"]], groups=rows["phase"])
    feats = layer_rows_features(rows)
    fit = LinearFit.fit({k: v[~test] for k, v in feats.items()}, rows["median_s"][~test].to_numpy())
    truth = true_layer_s({k: v[test] for k, v in feats.items()})
    assert np.median(ape(fit.predict({k: v[test] for k, v in feats.items()}), truth)) < 2.0


def test_loglog_table_recovers_a_power_law_between_and_beyond_its_points():
    n = np.repeat([1e3, 1e4, 1e5], 4)
    q = np.tile([1, 4, 16, 64], 3)
    table = LogLogTable.fit(n, q, 2e-9 * n * q ** 0.7)
    for entries, queries in ((3e3, 2), (5e4, 30), (1e6, 256), (500, 1)):
        assert table.predict_one(entries, queries) == pytest.approx(
            2e-9 * entries * queries ** 0.7, rel=1e-9)


def test_holdout_takes_a_quarter_of_each_group_and_never_an_edge_point():
    rows = synthetic_rows()
    axes = rows[["tokens", "context"]]
    test = holdout_mask(axes, groups=rows["phase"], seed=3)
    for _phase, sub in rows.groupby("phase"):
        picked = sub[test[sub.index]]
        assert len(picked) == round(0.25 * len(sub))
        for col in ("tokens", "context"):
            assert not picked[col].isin([sub[col].min(), sub[col].max()]).any()
    assert not np.array_equal(test, holdout_mask(axes, groups=rows["phase"], seed=4))


def _table(rows: pd.DataFrame) -> ProfileTable:
    meta = dict(model="smollm2", num_layers=30, hidden_size=576, dtype="float32",
                device_kind="cpu", device_name="test", threads=1, torch_version="x",
                date_utc="2026-01-01T00:00:00Z")
    recs = rows.assign(p10_s=rows.median_s, p90_s=rows.median_s, repeats=3,
                       inner=1).to_dict("records")
    return ProfileTable.from_records(recs, meta)


def test_fit_never_sees_the_held_out_points():
    """Corrupting the held-out rows' times changes the score, never the fit."""
    rows = synthetic_rows(noise=0.01)
    test = holdout_mask(rows[["tokens", "context"]], groups=rows["phase"], seed=0)
    clean = fit_profile(_table(rows), seed=0).fits["layer"]
    corrupt = rows.copy()
    corrupt.loc[test, "median_s"] *= 10.0
    bad = fit_profile(_table(corrupt), seed=0).fits["layer"]
    assert bad.model == clean.model
    assert bad.heldout.n_test == clean.heldout.n_test == test.sum()
    assert bad.heldout.median_ape == pytest.approx(90.0, abs=1.0)  # 10x => |1/10 - 1|


def test_heldout_score_is_the_ape_of_the_test_rows():
    score = HeldOut.score(np.array([1.1, 0.8, 2.0]), np.array([1.0, 1.0, 2.0]), n_train=5)
    assert (score.n_train, score.n_test) == (5, 3)
    assert score.median_ape == pytest.approx(10.0)
    assert score.max_ape == pytest.approx(20.0)
