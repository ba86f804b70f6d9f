"""The Trace type: validation and exact round-trips through JSONL and Parquet."""

import pytest

from skipsim.errors import UserError
from traces import Request, Trace
from traces.loaders import TraceConfig, load_trace


def _trace():
    return Trace.from_requests([
        Request(0, 0.0, 12, 30, "hello"),
        Request(1, 0.7, 500, 4, None),
        Request(2, 1.5, 4, 2000, 'quotes " and\nnewlines'),
    ], metadata={"source": "test", "seed": 3})


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_save_and_load_round_trip_exactly(tmp_path, suffix):
    original = _trace()
    loaded = Trace.load(original.save(tmp_path / f"t{suffix}"))
    assert list(loaded) == list(original)
    assert loaded.metadata == original.metadata


def test_requests_are_sorted_by_arrival():
    t = Trace([5, 6], [2.0, 1.0], [10, 10], [10, 10], [None, None])
    assert t.request_id.tolist() == [6, 5]


def test_summary_reports_rate_and_percentiles():
    s = _trace().summary()
    assert s["requests"] == 3 and s["duration_s"] == pytest.approx(1.5)
    assert s["achieved_rate_per_s"] == pytest.approx(2 / 1.5)
    assert s["prompt_tokens"]["max"] == 500


@pytest.mark.parametrize("content", ["not json\n", '{"request_id": 1}\n', "[1, 2]\n", ""])
def test_garbled_jsonl_is_a_user_error(tmp_path, content):
    f = tmp_path / "bad.jsonl"
    f.write_text(content)
    with pytest.raises(UserError):
        Trace.load(f)


def test_garbled_parquet_is_a_user_error(tmp_path):
    f = tmp_path / "bad.parquet"
    f.write_bytes(b"PAR1 definitely not parquet")
    with pytest.raises(UserError):
        Trace.load(f)


def test_zero_token_requests_are_rejected():
    with pytest.raises(UserError):
        Trace([0], [0.0], [0], [5], [None])


@pytest.mark.parametrize("kind", ["fixed", "uniform", "lognormal"])
def test_synthetic_traces_are_deterministic_and_respect_bounds(kind):
    cfg = TraceConfig(num_prompts=2000, request_rate_per_s=5.0, seed=11,
                      prompt_tokens=300, output_tokens=200)
    a, b = load_trace(kind, cfg), load_trace(kind, cfg)
    assert list(a) == list(b)
    assert a.prompt_tokens.min() >= 4 and (a.prompt_tokens + a.output_tokens).max() <= 2048
    if kind != "lognormal":
        assert a.prompt_tokens.max() <= 300 and a.output_tokens.max() <= 200


def test_lognormal_lengths_follow_their_parameters():
    from traces.lengths import SHAREGPT_OUTPUT_LOGNORMAL, fit_lognormal

    t = load_trace("lognormal", TraceConfig(num_prompts=50_000, seed=0))
    mu, sigma = fit_lognormal(t.output_tokens)
    # clipping to [4, 2048 - prompt] trims the tails a little
    assert mu == pytest.approx(SHAREGPT_OUTPUT_LOGNORMAL[0], abs=0.05)
    assert sigma == pytest.approx(SHAREGPT_OUTPUT_LOGNORMAL[1], abs=0.1)
