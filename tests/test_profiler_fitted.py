"""The measured cost model keeps the CostModel contract, round-trips via its
file, refuses a profile of another model, and is what `simulate` gets by default."""

import numpy as np
import pytest

from profiler.cost_model import COST_MODELS, BatchShape
from profiler.fit import block_features
from profiler.fit_profile import FittedProfile
from profiler.fitted import MeasuredCostModel, default_profile, load_fitted
from profiler.profile_table import ProfileTable
from profiler.resolve import cost_model_from_arg
from skipsim.errors import UserError
from skipsim.model_spec import model_spec
from tests.test_profiler_fit import synthetic_rows, true_layer_s


def synthetic_profile(tmp_path, model="smollm2"):
    """A profile whose every component follows a known law (no noise)."""
    rows = synthetic_rows()
    recs = rows.assign(p10_s=rows.median_s, p90_s=rows.median_s, repeats=3,
                       inner=1).to_dict("records")
    for t in (1, 2, 4, 16, 64, 256, 1024):
        recs.append(dict(component="kv_projection", tokens=t, median_s=1e-4 + 2e-6 * t))
        recs.append(dict(component="logits", tokens=t, median_s=1e-2 + 1e-3 * t))
    for n in (1_000, 10_000, 100_000):
        for q in (1, 4, 16, 64):
            recs.append(dict(component="lookup", index="flat", where="cpu", bank_entries=n,
                             num_queries=q, median_s=3e-9 * n * q))
    recs.append(dict(component="step_overhead", tokens=1, median_s=5e-4))
    for r in recs:
        r.setdefault("p10_s", r["median_s"])
        r.setdefault("p90_s", r["median_s"])
        r.setdefault("repeats", 3)
        r.setdefault("inner", 1)
    meta = dict(model=model, num_layers=30, hidden_size=576, dtype="float32",
                device_kind="cpu", device_name="synthetic", threads=1,
                torch_version="x", date_utc="2026-01-01T00:00:00Z")
    return ProfileTable.from_records(recs, meta).save(tmp_path / "synthetic.csv")


def test_contract_on_a_known_profile(tmp_path):
    cm = MeasuredCostModel(profile=synthetic_profile(tmp_path))
    batch = BatchShape(prefill_chunks=((100, 50),), decode_context_lens=(300, 700))
    one = cm.block_time_s(1, batch)
    f = block_features(100, 100 * 50 + 100 * 101 / 2, 2, 1000)
    assert one == pytest.approx(true_layer_s(f), rel=1e-6)
    assert cm.block_time_s(8, batch) == pytest.approx(8 * one)
    assert cm.block_time_s(4, BatchShape()) == 0.0 == cm.block_time_s(0, batch)
    assert cm.kv_projection_time_s(64, 3) == pytest.approx(3 * (1e-4 + 2e-6 * 64), rel=1e-6)
    assert cm.lm_head_time_s(16) == pytest.approx(1e-2 + 1e-3 * 16, rel=1e-6)
    assert cm.lookup_time_s(30_000, 8) == pytest.approx(3e-9 * 30_000 * 8, rel=1e-6)
    assert cm.lookup_time_s(0, 8) == 0.0 == cm.lm_head_time_s(0)
    assert cm.step_overhead_s == pytest.approx(5e-4)
    assert cm.label.startswith("measured: synthetic")


def test_fitted_model_round_trips_via_its_file(tmp_path):
    fitted = load_fitted(synthetic_profile(tmp_path))
    path = fitted.save(tmp_path / "synthetic.fit.json")
    again = FittedProfile.load(path)
    assert again.fits == fitted.fits and again.meta == fitted.meta
    a, b = MeasuredCostModel(profile=fitted), MeasuredCostModel(profile=path)
    for batch in (BatchShape(decode_context_lens=(128,) * 32), BatchShape(((2000, 0),))):
        assert a.block_time_s(30, batch) == b.block_time_s(30, batch)
    assert a.lookup_time_s(12_345, 7) == b.lookup_time_s(12_345, 7)


def test_bad_inputs_are_user_errors(tmp_path):
    path = synthetic_profile(tmp_path)
    with pytest.raises(UserError, match="measured model 'smollm2', not 'Llama-3-8B'"):
        MeasuredCostModel(spec=model_spec("llama-3-8b"), profile=path)
    with pytest.raises(UserError, match="not 'qwen"):
        MeasuredCostModel(profile=path, model="qwen2.5-1.5b")
    assert MeasuredCostModel(spec=model_spec("smollm2"), profile=path).num_layers == 30
    with pytest.raises(UserError, match="no 'hnsw' lookups"):
        MeasuredCostModel(profile=path, index="hnsw")
    with pytest.raises(UserError, match="no committed h100 profile"):
        MeasuredCostModel(spec=model_spec("smollm2"), device="h100")
    (tmp_path / "x.fit.json").write_text('{"format": "something else"}')
    with pytest.raises(UserError, match="not a fitted profile"):
        MeasuredCostModel(profile=tmp_path / "x.fit.json")
    with pytest.raises(UserError, match="unknown cost model"):
        cost_model_from_arg("no-such-model", model_spec("smollm2"))
    with pytest.raises(UserError, match="no committed cpu profile"):
        default_profile("qwen2.5-1.5b")


def test_cost_model_from_arg_takes_a_path_or_a_name(tmp_path):
    path = synthetic_profile(tmp_path)
    spec = model_spec("smollm2")
    assert cost_model_from_arg(str(path), spec).fitted.meta["device_name"] == "synthetic"
    # the resolved file a run records (config.json), "" for an analytic model
    assert cost_model_from_arg(str(path), spec).profile_path == str(path.resolve())
    assert cost_model_from_arg("roofline", spec).profile_path == ""
    assert "measured" in COST_MODELS
    assert isinstance(COST_MODELS["measured"](spec=spec, device="cpu"), MeasuredCostModel)


@pytest.mark.parametrize("cpu, profile, why", [
    ("Intel(R) Xeon(R) Processor", "cpu-xeon-smollm2.csv", "the committed profile of this CPU"),
    ("AMD EPYC", "cpu-smollm2.csv", "the committed profile of this CPU"),
    ("Apple M3", "cpu-smollm2.csv", "the committed cpu default; none is committed for this CPU"),
])
def test_auto_prices_by_this_cpus_profile_else_the_default(monkeypatch, cpu, profile, why):
    """`auto` (every run's default) takes the committed profile measured on
    this machine's CPU, else the committed CPU default, and says which and why."""
    import profiler.hardware

    monkeypatch.setattr(profiler.hardware, "cpu_name", lambda: cpu)
    cm = cost_model_from_arg(None, model_spec("smollm2"), "cpu")
    assert cm.fitted.source.endswith(profile)
    assert cm.profile_path.endswith(f"profiler/profiles/{profile}")
    assert cm.source.startswith(f"auto: profiler/profiles/{profile}, {why}")
    assert cost_model_from_arg("roofline", model_spec("smollm2"), "cpu").source == \
        "asked: roofline"


def test_the_committed_cpu_default_of_smollm2_prices_sensibly():
    cm = cost_model_from_arg(str(default_profile()), model_spec("smollm2"), "cpu")
    assert cm.fitted.source == str(default_profile())
    meta = cm.fitted.meta
    assert (meta["model"], meta["device_kind"], meta["num_layers"]) == ("smollm2", "cpu", 30)
    decode = [cm.block_time_s(1, BatchShape(decode_context_lens=(512,) * b)) for b in (1, 16, 128)]
    assert 0 < decode[0] < decode[1] < decode[2]
    assert set(cm.fitted.lookup_kinds()) == {"flat", "ivfpq", "hnsw"}
    flat = [cm.lookup_time_s(n, 1) for n in (1_000, 100_000, 1_000_000)]
    assert np.all(np.diff(flat) > 0)


def test_a_local_model_folder_is_filed_under_its_folder_name():
    from profiler.fitted import canonical_model, profile_path

    assert canonical_model("/models/MyQwen/") == canonical_model("MyQwen") == "myqwen"
    assert canonical_model("SmolLM2-135M-Instruct") == "smollm2"
    assert profile_path("smollm2", "cuda:1").name == "cuda-smollm2.csv"


def test_fused_block_pricing_is_bit_identical_to_the_fit():
    """block_time_s prices a linear layer fit without building the feature
    dict; it must return exactly LinearFit.predict_one(block_features(...))."""
    cost = MeasuredCostModel(spec=model_spec("smollm2"), device="cpu")
    assert cost._layer_terms is not None  # the committed profile takes the fused path
    layer = cost._fits["layer"]
    rng = np.random.default_rng([15, 2])
    for _ in range(2000):
        chunks = tuple((int(n), int(c)) for n, c in
                       rng.integers(1, 600, (rng.integers(0, 4), 2)))
        ctx = tuple(int(c) for c in rng.integers(1, 3000, rng.integers(0, 300)))
        batch = BatchShape(chunks, ctx)
        if batch.tokens == 0:
            continue
        layers = int(rng.integers(1, 31))
        expected = layers * layer.predict_one(block_features(
            batch.prefill_tokens, batch.prefill_attention_pairs, batch.decode_tokens,
            batch.decode_context_sum))
        assert cost.block_time_s(layers, batch) == expected
