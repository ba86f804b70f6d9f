"""What a run reports is what it did: saved traces follow --num-prompts and
--request-rate, the rate written is the rate used, bad trace files are refused
or sorted with a note, the summary table never runs columns together, and
1-token outputs print "–" with a footnote instead of nan."""

import json

import numpy as np
import pytest

from simulator.metrics import _stats, _weighted_stats
from simulator.writers import FOOTNOTE, cell, format_summary
from skipsim.cli import main
from skipsim.errors import UserError
from traces import Request, Trace
from traces.arrivals import replay_arrivals
from traces.loaders import TraceConfig, load_trace

FAST = ["--trace", "fixed", "--prompt-tokens", "32", "--output-tokens", "4", "--no-progress"]


@pytest.fixture
def saved(tmp_path):
    """A saved trace of 40 requests whose own arrivals come every 2 s (0.5 req/s)."""
    requests = [Request(i, 2.0 * i, 32, 4) for i in range(40)]
    return Trace.from_requests(requests, {"source": "test"}).save(tmp_path / "t.jsonl")


def _run(tmp_path, capsys, argv):
    code = main(["run", *argv, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    return captured, summary


def test_saved_trace_is_cut_and_keeps_its_arrivals(saved):
    own = load_trace(str(saved), TraceConfig())
    assert len(own) == 40 and own.arrival_time_s[-1] == 78.0 and own.metadata["arrivals"] == "saved"
    cut = load_trace(str(saved), TraceConfig(num_prompts=10))
    assert len(cut) == 10 and cut.arrival_time_s.tolist() == [2.0 * i for i in range(10)]
    assert any("first 10 of its 40" in n for n in cut.notes)
    with pytest.raises(UserError, match="holds 40 requests"):
        load_trace(str(saved), TraceConfig(num_prompts=41))


def test_saved_trace_with_a_rate_redraws_arrivals_with_the_seed(saved):
    a = load_trace(str(saved), TraceConfig(num_prompts=20, request_rate_per_s=50.0, seed=3))
    b = load_trace("fixed", TraceConfig(num_prompts=20, request_rate_per_s=50.0, seed=3))
    assert a.arrival_time_s.tolist() == b.arrival_time_s.tolist()  # the seed's arrival stream
    assert a.metadata["request_rate_per_s"] == 50.0 and a.metadata["arrivals"] == "drawn"
    assert any("redrawn at 50 req/s" in n and "not used" in n for n in a.notes)


def test_run_on_a_saved_trace_reports_the_arrivals_it_used(saved, tmp_path, capsys):
    captured, summary = _run(tmp_path, capsys, ["--trace", str(saved), "--num-prompts", "10",
                                                "--no-progress"])
    assert "request rate:" not in captured.err  # no rate probes
    assert "trace's own arrival times" in captured.err and "no rate probes" in captured.err
    assert "at the trace's own arrival times (0.500 req/s)" in captured.out
    assert summary["num_prompts"] == 10 and summary["request_rate"] is None
    assert summary["skipsim"]["arrival_rate_per_s"] == pytest.approx(0.5)

    captured, summary = _run(tmp_path, capsys, ["--trace", str(saved), "--num-prompts", "10",
                                                "--request-rate", "0.25", "--no-progress"])
    assert "redrawn at 0.25 req/s" in captured.err
    assert summary["num_prompts"] == 10 and summary["request_rate"] == 0.25
    assert "requests 10 at 0.250 req/s" in captured.out


def test_summary_json_has_vllm_keys(tmp_path, capsys):
    _, summary = _run(tmp_path, capsys, [*FAST, "--num-prompts", "6", "--request-rate", "inf"])
    assert summary["request_rate"] == "inf"  # as vLLM bench writes it
    assert summary["max_concurrency"] is None and "tokenizer_id" in summary
    for key in ("mean_itl_ms", "median_itl_ms", "p99_itl_ms"):
        assert summary[key] > 0
    assert summary["std_itl_ms"] >= 0
    # every request has 3 gaps of its TPOT: ITL's mean is TPOT's mean here
    assert summary["mean_itl_ms"] == pytest.approx(summary["mean_tpot_ms"])


def test_itl_is_tpot_weighted_by_gaps():
    rng = np.random.default_rng(0)
    tpot = rng.gamma(2.0, 0.01, 50)
    tpot[3] = np.nan  # a 1-token request: no gap
    gaps = rng.integers(0, 40, 50)
    got = _weighted_stats(tpot, gaps)
    keep = ~np.isnan(tpot)
    want = _stats(np.repeat(tpot[keep], gaps[keep]))
    assert got == pytest.approx(want, rel=1e-12)


def test_one_token_outputs_print_a_dash_and_a_footnote(tmp_path, capsys):
    captured, summary = _run(tmp_path, capsys, ["--trace", "fixed", "--num-prompts", "3",
                                                "--output-tokens", "1", "--request-rate", "inf",
                                                "--no-progress"])
    assert "nan" not in captured.out
    tpot = next(line for line in captured.out.splitlines() if line.startswith("TPOT"))
    assert tpot.split()[2:] == ["–"] * 4
    assert "– of 30" in captured.out and FOOTNOTE in captured.out
    assert summary["mean_tpot_ms"] is None  # JSON has no NaN


@pytest.mark.parametrize("value", [1.5, 1571833.7181538909, 9.87e9, 1e15])
def test_summary_cells_never_run_together(value):
    text = cell(value)
    assert len(text) == 10 and text[0] == " " and float(text) == pytest.approx(value, rel=1e-2)
    stats = {k: value for k in ("mean", "std", "p50", "p90", "p99")}
    line = next(iter(format_summary(_summary(stats), _labels(), {}).splitlines()[6:7]))
    assert len(line.split()) == 2 + 4  # "TTFT (ms)" and four numbers


def _summary(stats):
    return {"completed": 1, "ttft_s": stats, "tpot_s": stats, "itl_s": stats, "e2e_s": stats,
            "duration_s": 1.0, "request_throughput_per_s": 1.0, "output_throughput_tok_per_s": 1.0,
            "total_token_throughput_tok_per_s": 1.0, "gpu_busy_fraction": 1.0,
            "layers_per_decode_token": 30.0, "num_layers": 30, "skipped_layer_fraction": 0.0,
            "exits_per_decode_token": 0.0, "lookups_per_decode_token": 0.0, "lookup_busy_s": 0.0,
            "lookup_busy_fraction": 0.0, "kv_utilisation_mean": 0.0, "kv_utilisation_peak": 0.0,
            "preemptions": 0, "expected_agreement": 1.0, "steps": 1, "token_block_executions": 1}


def _labels():
    return {"model": "m", "device": "cpu", "checkpoints": "30", "policy": "fcfs",
            "kv_policy": "none", "lookup_placement": "cpu", "cost_model": "c", "skip_model": "s"}


def test_fractional_token_counts_are_refused(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"request_id": 0, "arrival_time_s": 0, "prompt_tokens": 3.7, '
                 '"output_tokens": 4}\n')
    with pytest.raises(UserError, match="prompt_tokens must be whole numbers, got 3.7"):
        Trace.load(f)
    with pytest.raises(UserError, match="output_tokens must be whole"):
        Trace([0], [0.0], [4], [2.5], [None])
    assert Trace([0], [0.0], [4.0], [2.0], [None]).prompt_tokens.dtype == np.int64


def test_unsorted_arrivals_are_sorted_with_a_note_and_negative_ones_refused(tmp_path):
    t = Trace([5, 6], [2.0, 1.0], [10, 10], [10, 10], [None, None])
    assert t.request_id.tolist() == [6, 5] and "sorted" in t.notes[0]
    with pytest.raises(UserError, match="non-negative"):
        Trace([0], [-1.0], [4], [4], [None])
    f = tmp_path / "times.txt"
    f.write_text("3\n1\n2\n")
    notes = []
    assert replay_arrivals(f, 3, notes).tolist() == [0.0, 1.0, 2.0] and "not in order" in notes[0]
    f.write_text("-5\n0\n3\n")
    with pytest.raises(UserError, match="non-negative"):
        replay_arrivals(f, 3)


def test_timeline_window_keeps_only_its_span_and_says_the_size(tmp_path, capsys):
    from simulator.timeline import parse_window, sample_requests

    captured, _ = _run(tmp_path, capsys, [*FAST, "--num-prompts", "8", "--request-rate", "2",
                                          "--timeline", str(tmp_path / "t.json"),
                                          "--timeline-window", "1:2"])
    events = [e for e in json.loads((tmp_path / "t.json").read_text())["traceEvents"]
              if e.get("ph") == "X"]
    assert events and all(e["ts"] + e["dur"] >= 1e6 and e["ts"] <= 2e6 for e in events)
    assert "MB," in captured.err and f"{len(events):,} slices in 1:2 s" in captured.err
    captured, _ = _run(tmp_path, capsys, [*FAST, "--num-prompts", "8", "--request-rate", "2",
                                          "--timeline", str(tmp_path / "s.json"),
                                          "--timeline-sample", "2"])
    sampled = [e for e in json.loads((tmp_path / "s.json").read_text())["traceEvents"]
               if e.get("ph") == "X"]
    whole = main(["run", *FAST, "--num-prompts", "8", "--request-rate", "2", "--timeline",
                  str(tmp_path / "w.json"), "--out", str(tmp_path / "w")])
    every = [e for e in json.loads((tmp_path / "w.json").read_text())["traceEvents"]
             if e.get("ph") == "X"]
    assert whole == 0 and 0 < len(sampled) < len(every)
    assert "serving 2 sampled requests" in captured.err
    assert sample_requests(10, 3) == {0, 4, 9} and sample_requests(2, 5) == {0, 1}
    with pytest.raises(UserError, match="at least 1"):
        sample_requests(10, 0)
    assert parse_window(":5") == (0.0, 5.0) and parse_window("3:") == (3.0, float("inf"))
    for bad in ("5", "5:1", "a:b", "-1:2"):
        with pytest.raises(UserError, match="START:END"):
            parse_window(bad)
