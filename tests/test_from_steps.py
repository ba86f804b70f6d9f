"""`simulate profile --from-steps`: the cost model refitted on an executor
step log recovers a known linear cost exactly (the layer's coefficients, the
LM head's, and the per-step overhead the per-layer profile cannot see), and
scores itself only on steps it never fitted."""

import numpy as np
import pandas as pd
import pytest

from profiler.fit import block_features, token_features

# the true costs (s): one layer = A + P*prefill token + Q*pair + D*decode seq + C*context
A, P, Q, D, C = 2e-4, 3e-6, 1e-9, 5e-5, 2e-8
HEAD_ONE, HEAD_TOKEN = 1e-3, 4e-5
LOOK_ONE, LOOK_QUERY, BANK = 8e-4, 1.5e-4, 500  # a routing decision at a bank of BANK entries
OVERHEAD = 2.5e-3


def layer_s(n, pairs, b, ctx):
    return A + P * n + Q * pairs + D * b + C * ctx


def synthetic_log(num_steps=400, seed=0) -> pd.DataFrame:
    """Steps as the executor logs them: a prefill piece (full depth) in some,
    a decode block piece (2 or 8 layers) in most, an LM head piece, and the
    whole step's row, every time given by the known cost above."""
    rng = np.random.default_rng(seed)
    rows, t = [], 0.0

    def piece(step, kind, dur, **cols):
        nonlocal t
        rows.append({"step": step, "kind": kind, "block": -1, "start_s": t, "end_s": t + dur,
                     "batch_size": cols.get("batch_size", 0), "tokens": cols.get("tokens", 0),
                     "context_sum": cols.get("context_sum", 0), "lookups": cols.get("lookups", 0),
                     "cost_model_s": 0.0, "layers": cols.get("layers", 0),
                     "pairs": cols.get("pairs", 0), "bank_entries": cols.get("bank_entries", 0)})
        t += dur

    for step in range(1, num_steps + 1):
        start, head = t, 0
        if rng.random() < 0.3:
            n = int(rng.integers(4, 600))
            pairs = n * (n + 1) // 2
            piece(step, "prefill", 30 * layer_s(n, pairs, 0, 0), tokens=n, pairs=pairs,
                  context_sum=n, batch_size=1, layers=30)
            head += 1
        if rng.random() < 0.9:
            b = int(rng.integers(1, 64))
            ctx = int(b * rng.integers(10, 700))
            layers = int(rng.choice([2, 8]))
            piece(step, "block", layers * layer_s(0, 0, b, ctx), batch_size=b, tokens=b,
                  context_sum=ctx, layers=layers)
            head += b
            if rng.random() < 0.5:
                q = min(b, 8)
                piece(step, "lookup", LOOK_ONE + LOOK_QUERY * q, batch_size=q, tokens=q,
                      lookups=q, bank_entries=BANK)
        if head:
            piece(step, "lm_head", HEAD_ONE + HEAD_TOKEN * head, tokens=head, batch_size=head)
        t += OVERHEAD
        rows.append({"step": step, "kind": "step", "block": -1, "start_s": start, "end_s": t,
                     "batch_size": 0, "tokens": 0, "context_sum": 0, "lookups": 0,
                     "cost_model_s": 0.0, "layers": 0, "pairs": 0, "bank_entries": 0})
    frame = pd.DataFrame(rows)
    frame["duration_s"] = frame["end_s"] - frame["start_s"]
    return frame


@pytest.fixture
def base():
    from profiler.fitted import default_profile, load_fitted

    return load_fitted(default_profile("smollm2", "cpu"))


def test_a_known_linear_cost_is_recovered(base):
    from profiler.from_steps import fit_steps

    fitted = fit_steps(synthetic_log().assign(run=0), base, seed=0)
    layer = fitted.fits["layer"].model
    coef = dict(zip(layer.features, layer.coef))
    for name, true in (("one", A), ("prefill_tokens", P), ("prefill_pairs", Q),
                       ("decode_seqs", D), ("decode_context", C)):
        assert coef[name] == pytest.approx(true, rel=1e-4), name
    # every hinge of the true straight line is zero
    assert all(abs(c) < 1e-9 for k, c in coef.items() if ">" in k)
    # at shapes never logged: the same times as the true cost
    for n, b, ctx in ((1000, 0, 0), (0, 100, 80_000), (300, 7, 3_000)):
        pairs = n * (n + 1) // 2
        got = layer.predict_one(block_features(n, pairs, b, ctx))
        assert got == pytest.approx(layer_s(n, pairs, b, ctx), rel=1e-6)
    head = fitted.fits["logits"].model
    assert head.predict_one(token_features(50)) == pytest.approx(HEAD_ONE + 50 * HEAD_TOKEN,
                                                                 rel=1e-6)
    assert fitted.step_overhead_s == pytest.approx(OVERHEAD, rel=1e-6)
    # scored on held-out steps only, and exact there
    held = fitted.fits["layer"].heldout
    assert held.n_test > 0 and held.max_ape < 1e-4
    # lookups: the measured decision time per query count, at any bank size (one measured)
    for key in ("lookup/flat", "lookup/hnsw"):
        table = fitted.fits[key].model
        for q in (1, 4, 8):
            for bank in (BANK, 100_000):
                assert table.predict_one(bank, q) == pytest.approx(LOOK_ONE + LOOK_QUERY * q)
    # the rest is the base profile's, and the label says what was refitted
    assert fitted.fits["kv_projection"] is base.fits["kv_projection"]
    assert "refitted on executor steps" in fitted.label


def test_held_out_steps_are_never_fitted(base):
    """Corrupting exactly the held-out steps' times leaves the fit unchanged."""
    from profiler.from_steps import fit_steps, test_steps

    log = synthetic_log().assign(run=0)
    held = test_steps(log, seed=0)
    bad = log.copy()
    mask = np.array([k in held for k in zip(bad["run"], bad["step"])])
    bad.loc[mask, "duration_s"] *= 3.0
    a, b = fit_steps(log, base, seed=0), fit_steps(bad, base, seed=0)
    assert a.fits["layer"].model == b.fits["layer"].model
    assert a.step_overhead_s == pytest.approx(b.step_overhead_s)
    assert b.fits["layer"].heldout.median_ape > 50  # and they are what is scored


def test_repricing_a_log_with_its_fit_gives_its_times(base):
    from profiler.from_steps import fit_steps, price_steps
    from reports.validation.compare import step_errors

    log = synthetic_log().assign(run=0)
    priced = price_steps(log, fit_steps(log, base, seed=0))
    errors = step_errors(priced)
    assert errors["all"]["p90_ape"] < 1e-3 and errors["overhead"]["p90_ape"] < 1e-3


def test_repricing_by_a_profile_gives_the_cost_models_own_prices(base):
    """price_steps prices each kind exactly as MeasuredCostModel on that profile
    does (the executor's own prices when it ran on it): blocks from the sums a
    piece logs, the LM head, the lookups (flat banks) and the step overhead."""
    from profiler.cost_model import BatchShape
    from profiler.fitted import MeasuredCostModel
    from profiler.from_steps import price_steps

    log = synthetic_log(num_steps=60)
    priced = price_steps(log, base)["cost_model_s"].to_numpy()
    cm = MeasuredCostModel(profile=base)
    for m, row in enumerate(log.itertuples()):
        if row.kind == "block":  # contexts spread over the batch: the price reads their sum
            lens = np.full(row.batch_size, row.context_sum // row.batch_size)
            lens[: row.context_sum % row.batch_size] += 1
            want = cm.block_time_s(row.layers, BatchShape((), tuple(int(x) for x in lens)))
        elif row.kind == "prefill":  # one chunk, no cached prefix: its pairs as logged
            want = cm.block_time_s(row.layers, BatchShape(((row.tokens, 0),), ()))
        elif row.kind == "lm_head":
            want = cm.lm_head_time_s(row.tokens)
        elif row.kind == "lookup":
            want = cm.lookup_time_s(row.bank_entries, row.lookups)
        else:
            want = cm.step_overhead_s
        assert priced[m] == pytest.approx(want, rel=1e-9), row.kind


def test_the_cli_writes_a_fit_the_simulator_loads(tmp_path, capsys):
    from profiler.cost_model import BatchShape
    from profiler.fitted import MeasuredCostModel
    from skipsim.cli import main

    path = tmp_path / "steps.parquet"
    synthetic_log().to_parquet(path)
    out = tmp_path / "refit.fit.json"
    assert main(["profile", "--from-steps", str(path), "--out", str(out)]) == 0
    assert "step_overhead_s: 2.500e-03" in capsys.readouterr().out
    cost = MeasuredCostModel(profile=out, model="smollm2")
    batch = BatchShape((), (300, 500))
    assert cost.block_time_s(4, batch) == pytest.approx(4 * layer_s(0, 0, 2, 800), rel=1e-6)
    assert cost.step_overhead_s == pytest.approx(OVERHEAD, rel=1e-6)


def test_an_old_step_log_is_one_line(tmp_path, user_error):
    old = synthetic_log().drop(columns=["layers", "pairs"])
    old = old[old["kind"] != "step"]
    old.to_parquet(tmp_path / "old.parquet")
    user_error(["profile", "--from-steps", str(tmp_path / "old.parquet"), "--out",
                str(tmp_path / "f.fit.json")], "written by an older executor")


def test_the_refit_starts_from_the_profile_the_run_recorded(tmp_path):
    """The run's config.json names the resolved profile it was priced by; the
    refit reads that file, not what `auto` would pick today."""
    from profiler.from_steps import base_profile_of
    from skipsim.errors import UserError
    from tests.test_profiler_fitted import synthetic_profile

    path = synthetic_profile(tmp_path)
    config = {"config": {"sim": {"model": "smollm2", "cost_model": "auto"}},
              "labels": {"cost_model_profile": str(path)}}
    assert base_profile_of(config, None).meta["device_name"] == "synthetic"
    config["labels"]["cost_model_profile"] = ""  # priced by an analytic model
    assert base_profile_of(config, None).meta["base_cost_model"] == "roofline"
    config["labels"]["cost_model_profile"] = str(tmp_path / "gone.csv")
    with pytest.raises(UserError, match="gone.csv, which no longer exists"):
        base_profile_of(config, None)
