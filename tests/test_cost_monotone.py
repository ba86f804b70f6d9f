"""The measured cost model never prices more work as less time, inside and
beyond its profiled grid; chunking a prompt does not make it cheap; steps
outside the grid are counted; prompts beyond the context window are refused."""

import json

import numpy as np
import pytest

from profiler.cost_model import BatchShape
from profiler.fit import LinearFit, token_features
from profiler.fit_profile import FittedProfile
from profiler.fitted import MeasuredCostModel
from profiler.monotone import cumulative_slopes, identified, nonneg_slope_lstsq
from skipsim.cli import main
from skipsim.errors import UserError


@pytest.fixture(scope="module")
def committed():
    return MeasuredCostModel()  # the committed CPU profile of SmolLM2


def _non_decreasing(values):
    v = np.asarray(values, dtype=float)
    return bool(np.all(np.diff(v) >= -1e-12 * v[1:]))  # up to float rounding of exp(log t)


def test_every_committed_linear_fit_is_monotone(committed):
    for name, fit in committed.fitted.fits.items():
        if isinstance(fit.model, LinearFit):
            assert fit.model.monotone, (name, cumulative_slopes(list(fit.model.features),
                                                                fit.model.coef))


def test_time_grows_with_prompt_tokens_within_and_beyond_the_grid(committed):
    lengths = np.unique(np.geomspace(1, 8192, 200).astype(int))  # grid ends at 2048
    prefill = [committed.block_time_s(1, BatchShape(((n, 0),))) for n in lengths]
    assert _non_decreasing(prefill)
    assert prefill[-1] > 3 * committed.block_time_s(1, BatchShape(((2048, 0),)))


@pytest.mark.parametrize("context", [16, 512, 4096, 16384])
def test_time_grows_with_decode_batch_at_every_context(committed, context):
    batch = [committed.block_time_s(1, BatchShape((), (context,) * b)) for b in range(1, 1025)]
    assert _non_decreasing(batch)  # grid ends at 256 sequences


@pytest.mark.parametrize("batch", [1, 32, 256, 512])
def test_time_grows_with_context(committed, batch):
    contexts = np.unique(np.geomspace(1, 32768, 100).astype(int))  # grid ends at 4096
    times = [committed.block_time_s(1, BatchShape((), (int(c),) * batch)) for c in contexts]
    assert _non_decreasing(times)
    prefix = [committed.block_time_s(1, BatchShape(((256, int(c)),))) for c in contexts]
    assert _non_decreasing(prefix)  # a chunk after a longer cached prefix costs no less


@pytest.mark.parametrize("tokens", [256, 1024, 2048, 4096])
def test_token_components_grow_with_tokens(committed, tokens):
    assert committed.lm_head_time_s(tokens) >= committed.lm_head_time_s(tokens // 2)
    assert committed.kv_projection_time_s(tokens, 1) >= committed.kv_projection_time_s(
        tokens // 2, 1)


@pytest.mark.parametrize("index", ["flat", "ivfpq", "hnsw"])
def test_lookups_never_get_cheaper_with_more_queries_or_a_larger_bank(committed, index):
    cm = MeasuredCostModel(profile=committed.fitted, index=index)
    queries = range(1, 1025)  # grid ends at 256
    for bank in (500, 3_000, 100_000, 1_000_000):  # grid: 1,000..300,000 (hnsw 100,000)
        assert _non_decreasing([cm.lookup_time_s(bank, q) for q in queries])
    for q in (1, 7, 128, 256, 512):
        banks = np.unique(np.geomspace(100, 3e6, 60).astype(int))
        assert _non_decreasing([cm.lookup_time_s(int(n), q) for n in banks])


@pytest.mark.parametrize("prompt,chunk", [(2048, 512), (2048, 256), (4096, 512), (1000, 128)])
def test_chunked_and_unchunked_prefill_cost_about_the_same(committed, prompt, chunk):
    whole = committed.block_time_s(1, BatchShape(((prompt, 0),)))
    starts = range(0, prompt, chunk)
    chunked = sum(committed.block_time_s(1, BatchShape(((min(chunk, prompt - s), s),)))
                  for s in starts)
    # the measured rows themselves: 4 x 512 tokens take 0.93 x one 2048-token prefill
    assert 0.8 <= chunked / whole <= 1.25


def test_constrained_fit_of_falling_data_is_monotone_and_exact_when_truth_is():
    x = np.arange(1.0, 200.0)
    names = ["one", "tokens", "tokens>16", "tokens>64"]
    cols = lambda v: np.column_stack([np.ones_like(v), v, np.maximum(v - 16, 0),  # noqa: E731
                                      np.maximum(v - 64, 0)])
    falling = 1e-3 + 1e-4 * x - 1.5e-4 * np.maximum(x - 64, 0)  # falls after 64
    a = nonneg_slope_lstsq(cols(x) / falling[:, None], np.ones_like(x), names)
    assert all(s >= -1e-15 for s in cumulative_slopes(names, a).values())
    concave = 1e-3 + 1e-4 * x - 6e-5 * np.maximum(x - 16, 0)  # monotone: recovered exactly
    a = nonneg_slope_lstsq(cols(x) / concave[:, None], np.ones_like(x), names)
    assert a == pytest.approx([1e-3, 1e-4, -6e-5, 0.0], abs=1e-12)


def test_a_hinge_without_data_in_its_segment_is_dropped():
    x = np.array([1.0, 2, 4, 256, 1024])  # nothing in (4, 16] nor (16, 64]
    f = token_features(x, knots=(4, 16, 64))
    names = list(f)
    kept = identified(names, np.column_stack([np.broadcast_to(f[k], x.shape) for k in names]))
    assert kept == ["one", "tokens", "tokens>64"]
    fit = LinearFit.fit(f, 1e-4 + 2e-6 * x)
    assert fit.predict_one(token_features(100.0)) == pytest.approx(1e-4 + 2e-6 * 100)


def test_a_saved_fit_that_falls_is_refused(tmp_path, committed):
    d = committed.fitted.to_dict()
    layer = d["fits"]["layer"]["model"]
    layer["coef"][layer["features"].index("prefill_tokens")] = -1.0  # an old, falling fit
    path = tmp_path / "old.fit.json"
    path.write_text(json.dumps(d))
    with pytest.raises(UserError, match="falls as work grows"):
        FittedProfile.load(path)


def test_steps_outside_the_grid_are_counted(committed):
    cm = MeasuredCostModel(profile=committed.fitted)
    inside = [BatchShape(((2048, 0),)), BatchShape(((512, 1536),)), BatchShape((), (4096,) * 128),
              BatchShape(((100, 0),), (300,) * 256)]
    for b in inside:
        cm.block_time_s(4, b)
    assert cm.outside_grid_steps == 0
    outside = [BatchShape(((2049, 0),)), BatchShape(((512, 1600),)), BatchShape((), (16,) * 257),
               BatchShape((), (100,) * 10 + (4097,))]
    for b in outside:
        cm.block_time_s(4, b)
    assert cm.outside_grid_steps == len(outside)
    cm.start_run(longest_request_tokens=1000)  # a new run: counts restart
    assert cm.outside_grid_steps == 0
    cm.block_time_s(4, BatchShape(((2049, 0),)))
    assert cm.outside_grid_steps == 1
    assert "prefill <= 2048 tokens" in cm.grid_note and "decode batch <= 256" in cm.grid_note


def test_run_counts_and_warns_about_steps_outside_the_grid(tmp_path, capsys):
    code = main(["run", "--trace", "fixed", "--num-prompts", "2", "--prompt-tokens", "3000",
                 "--output-tokens", "2", "--request-rate", "inf", "--no-progress",
                 "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err.count("outside the profiled grid") == 1  # warned once
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["skipsim"]
    assert summary["steps_outside_profiled_grid"] > 0
    assert "steps outside the profiled grid" in captured.out


def test_prompts_beyond_the_context_window_are_refused(tmp_path, capsys):
    code = main(["run", "--trace", "fixed", "--num-prompts", "1", "--prompt-tokens", "8192",
                 "--output-tokens", "1", "--request-rate", "inf", "--no-progress",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "8193 tokens" in err[0] and "8192-token context window" in err[0]
