"""`simulate validate` end to end on a tiny random Llama (a few requests, a
saved trace): the executor runs, the simulator on the same workload, the
join on request_id, signed errors that are what they say, the JSON and the
page written, cached runs reused, and bad input refused in one line."""

import json

import numpy as np
import pytest

from reports.validation.compare import join, request_errors, signed_pct
from traces.trace import Trace

VOCAB = 96


class TinyTokenizer:
    """Enough of a tokenizer for a trace without texts: its size."""

    def __len__(self):
        return VOCAB


@pytest.fixture
def tiny(tmp_path, monkeypatch, tmp_cache, one_torch_thread):
    """A tiny Llama folder served in place of a real model, and a saved trace."""
    import skipsim.model_loader as loader
    from executor.tiny import tiny_model

    folder = tmp_path / "tiny-llama"
    tiny_model(layers=4, vocab=VOCAB).save_pretrained(folder)

    def load_model(name, dtype="float32", device="cpu"):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(name).eval(), TinyTokenizer()

    monkeypatch.setattr(loader, "load_model", load_model)
    # the speed probe (half a second of a 113 MB matmul) answers 20 ms, then 25 ms, ...
    probes = iter(range(10_000))
    monkeypatch.setattr("profiler.speed_probe.probe_s",
                        lambda device="cpu": 0.02 + 0.005 * (next(probes) % 2))
    n = 4
    trace = Trace(np.arange(n), np.zeros(n), np.array([12, 20, 8, 16]), np.array([5, 3, 6, 4]),
                  [None] * n)
    path = trace.save(tmp_path / "trace.jsonl")
    return folder, path


def argv(folder, path, tmp_path, *extra):
    return ["validate", "--model", str(folder), "--trace", str(path), "--num-prompts", "4",
            "--policy", "deepest-first,no-skip", "--modes", "random", "--loads", "0.5,0.95",
            "--no-progress",
            "--out", str(tmp_path / "out"), *extra]


def test_tiny_validate_writes_a_joined_scored_report(tiny, tmp_path, capsys):
    from skipsim.cli import main

    folder, path = tiny
    assert main(argv(folder, path, tmp_path)) == 0
    out = capsys.readouterr().out
    assert "e2e_mean" in out and "goals" in out
    result = json.loads((tmp_path / "out" / "validation.json").read_text())
    rows = result["rows"]
    # the committed profile's rows at both loads; the refit (fitted on load 0.5's
    # first runs) scored only at 0.95, never on a run it was fitted on
    assert sorted((r["policy"], r["mode"], r["load"], r["cost"]) for r in rows) == [
        ("deepest-first", "random", 0.5, "profile"), ("deepest-first", "random", 0.95, "profile"),
        ("deepest-first", "random", 0.95, "refit"), ("no-skip", "no-skip", 0.5, "profile"),
        ("no-skip", "no-skip", 0.95, "profile"), ("no-skip", "no-skip", 0.95, "refit")]
    assert result["fit"]["on"].startswith("load 0.5, repeat 0")
    assert "fit on load 0.5, repeat 0" in out
    fitted_runs = {r["real_run"] for r in rows if r["load"] == 0.5}
    assert fitted_runs.isdisjoint(r["real_run"] for r in rows if r["cost"] == "refit")
    assert "refitted on executor steps (validate load 0.5" in " ".join(
        str(r["sim_labels"]) for r in rows if r["cost"] == "refit")
    for row in rows:
        assert row["join"]["request_id"] == [0, 1, 2, 3]  # joined on request_id
        for m in ("ttft_mean", "e2e_mean", "e2e_p99", "tpot_p50"):
            r = row["request"][m]
            assert np.isfinite([r["sim"], r["real"]]).all() and r["real"] > 0
            assert r["err_pct"] == pytest.approx(100 * (r["sim"] - r["real"]) / r["real"])
            assert np.isfinite(row["noise"][m])
        assert row["step"]["all"]["n"] > 0
        # each run's probe, before and after it; a roofline has no reference to read it by
        assert row["machine"]["probe_s"] == [0.02, 0.025]
        assert row["machine"]["relative"] is None
    assert "no reference" in out
    page = (tmp_path / "out" / "validation.html").read_text()
    assert "<script src=" not in page and len(page) > 1_000_000  # plotly.js inlined
    # a second validate reuses every finished executor run (none is run again)
    import reports.validation.real_runs as real_runs

    calls = []
    original = real_runs._execute
    real_runs._execute = lambda a: calls.append(a) or original(a)
    try:
        assert main(argv(folder, path, tmp_path)) == 0
    finally:
        real_runs._execute = original
    assert calls == []


def test_repeats_run_in_rounds_so_the_noise_floor_sees_the_drift(tiny, tmp_path, monkeypatch):
    """Every point's first executor run comes before any point's second: a
    floor from two back-to-back runs of one point hides how far the machine
    drifts over a whole validate."""
    import reports.validation.protocol as protocol
    from skipsim.cli import main

    repeats, original = [], protocol.real_run

    def spy(flags, trace_path, repeat, cache, log=None):
        repeats.append(repeat)
        return original(flags, trace_path, repeat, cache, log)

    monkeypatch.setattr(protocol, "real_run", spy)
    folder, path = tiny
    assert main(argv(folder, path, tmp_path)) == 0
    # 2 capacity runs, then round 0 over 2 policies x 2 loads, then round 1
    assert repeats == [0] * 6 + [1] * 4


def test_a_refit_on_two_loads_is_scored_only_on_the_third(tiny, tmp_path, capsys):
    """--fit-on 0.5,0.95 (the default `ends` of three loads): the refit reads
    the first run of both loads (so it sees light and heavy batches) and is
    scored only at 0.85, and says so."""
    from skipsim.cli import main

    folder, path = tiny
    assert main(argv(folder, path, tmp_path, "--policy", "no-skip", "--loads", "0.5,0.85,0.95")
                ) == 0  # --fit-on's default with three loads: the ends
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "out" / "validation.json").read_text())
    rows = result["rows"]
    assert sorted((r["load"], r["cost"]) for r in rows) == [
        (0.5, "profile"), (0.85, "profile"), (0.85, "refit"), (0.95, "profile")]
    assert result["fit"]["on"] == "loads 0.5, 0.95, repeat 0 (no-skip)"
    assert "refit: fit on loads 0.5, 0.95, repeat 0 (no-skip), scored only on load 0.85" in out
    fitted = set(result["fit"]["runs"])
    assert fitted == {r["real_run"] for r in rows if r["load"] in (0.5, 0.95)}  # both loads'
    refit = next(r for r in rows if r["cost"] == "refit")
    assert refit["real_run"] not in fitted  # and the scored run never was


def test_the_cost_model_asked_for_reaches_the_executor(tiny, tmp_path, user_error):
    """--cost-model goes to the executor (whose resolved config the simulator
    side copies): a profile of another model is refused there, in one line."""
    folder, path = tiny
    user_error(argv(folder, path, tmp_path, "--policy", "no-skip", "--fit-on", "none",
                    "--cost-model", "profiler/profiles/cpu-smollm2.csv"),
               "measured model 'smollm2', not 'tiny-llama'")


def test_signed_errors_and_the_join_are_what_they_say():
    assert signed_pct(1.1, 1.0) == pytest.approx(10.0) and signed_pct(0.9, 1.0) < 0
    base = {"request_id": np.array([2, 0, 1]), "e2e_s": np.array([3.0, 1.0, 2.0]),
            "ttft_s": np.array([0.3, 0.1, 0.2]), "tpot_s": np.array([0.1, 0.1, 0.1]),
            "layers_executed": np.array([10, 10, 10]), "layers_skipped": np.array([0, 0, 0]),
            "output_tokens": np.array([4, 4, 4]), "expected_agreement": np.ones(3)}
    sim = {**base, "request_id": np.array([0, 1, 2]), "e2e_s": np.array([1.1, 2.2, 3.3])}
    assert join(sim, base)["e2e_signed_pct"] == pytest.approx([10.0, 10.0, 10.0])
    assert request_errors(sim, base)["e2e_mean"]["err_pct"] == pytest.approx(10.0)


def test_mismatched_records_are_one_line(user_error):
    from skipsim.errors import UserError

    a = {"request_id": np.array([0, 1]), "e2e_s": np.ones(2)}
    with pytest.raises(UserError, match="mismatched records"):
        join({**a, "request_id": np.array([0, 2])}, a)


def test_a_mismatched_trace_is_refused():
    from reports.validation.sim_side import matched_trace
    from skipsim.errors import UserError

    trace = Trace(np.arange(2), np.array([0.0, 1.0]), np.array([4, 4]), np.array([3, 3]),
                  [None, None])
    real = {"request_id": np.arange(2), "arrival_time_s": np.array([0.0, 2.0]),
            "output_tokens": np.array([3, 3]), "prompt_tokens": np.array([4, 4])}
    with pytest.raises(UserError, match="mismatched traces"):
        matched_trace(trace, real)


@pytest.mark.parametrize("text, loads, fitted", [
    ("ends", (0.5, 0.85, 0.95), (0.5, 0.95)), ("ends", (0.5, 0.95), (0.5,)),
    ("first", (0.5, 0.85, 0.95), (0.5,)), ("none", (0.5, 0.95), ()), ("ends", (0.5,), ()),
    ("0.95,0.5,0.95", (0.5, 0.85, 0.95), (0.95, 0.5)),
])
def test_which_loads_the_refit_is_fitted_on(text, loads, fitted):
    from reports.validation.cli import _fit_on

    assert _fit_on(text, loads) == fitted


@pytest.mark.parametrize("extra, message", [
    (["--policy", "fastest-ever"], "unknown policy 'fastest-ever'"),
    (["--modes", "psychic"], "unknown skip mode 'psychic'"),
    (["--loads", "0.5,x"], "--loads must be a comma list"),
    (["--repeats", "1"], "--repeats must be at least 2"),
    (["--loads", "0.5,0.95", "--fit-on", "0.7"], "--fit-on 0.7 is not one of the loads"),
    (["--loads", "0.5", "--fit-on", "0.5"], "--fit-on needs a load it does not fit on"),
    (["--loads", "0.5,0.95", "--fit-on", "0.5,0.95"], "--fit-on needs a load it does not fit on"),
])
def test_bad_input_is_one_line_and_exit_2(extra, message, user_error, tmp_path):
    user_error(["validate", "--out", str(tmp_path / "o"), *extra], message)


def test_a_failed_executor_run_is_one_line(user_error, tmp_path, tmp_cache):
    # a model folder of an unsupported family: the executor refuses it
    folder = tmp_path / "gpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    trace = Trace(np.arange(2), np.zeros(2), np.array([4, 4]), np.array([3, 3]), [None, None])
    path = trace.save(tmp_path / "t.jsonl")
    user_error(["validate", "--model", str(folder), "--trace", str(path), "--num-prompts", "2",
                "--policy", "no-skip", "--no-progress", "--out", str(tmp_path / "o")],
               "executor run failed")


@pytest.mark.slow
def test_quick_validate_on_the_real_model(tmp_path, one_torch_thread):
    from skipsim.cli import main

    assert main(["validate", "--quick", "--no-progress", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "validation.json").read_text())
    for row in result["rows"]:
        for r in row["request"].values():
            assert np.isfinite([r["sim"], r["real"], r["err_pct"]]).all()
    assert "<script" in (tmp_path / "validation.html").read_text()


def test_the_machine_speed_is_the_profiles_probe_over_the_runs(tmp_path):
    """relative speed = the profile's probe time / the mean of a run's two
    probes; a profile without a probe has no reference."""
    from profiler.profile_table import ProfileTable
    from reports.validation.protocol import machine_speed
    from reports.validation.report import speed_note
    from tests.test_profiler_fitted import synthetic_profile

    path = synthetic_profile(tmp_path)
    table = ProfileTable.load(path)
    table.meta["speed_probe"] = {"op": "x", "before_s": 0.019, "after_s": 0.021,
                                 "reference_s": 0.020}
    probed = table.save(tmp_path / "probed.csv")

    def run(probe):
        return {"config": {"labels": {"cost_model_profile": str(probed)},
                           "config": {"sim": {}}}, "speed_probe": probe}

    speed = machine_speed(run({"before_s": 0.024, "after_s": 0.026}),
                          run({"before_s": 0.02, "after_s": 0.02}))
    assert speed["relative"] == pytest.approx(0.8)
    assert speed["repeat_relative"] == pytest.approx(1.0)
    assert speed_note(speed) == "0.80 / 1.00"
    old = run({"before_s": 0.024, "after_s": 0.026})
    old["config"]["labels"]["cost_model_profile"] = str(path)
    assert speed_note(machine_speed(old, old)) == "no reference"
    assert speed_note(machine_speed({**old, "speed_probe": None}, old)) == "no probe"


@pytest.mark.parametrize("cpu, model, threads, profile", [
    ("AMD EPYC", "smollm2", 1, "cpu-smollm2.csv"),
    ("Intel(R) Xeon(R) Processor", "smollm2", 1, "cpu-xeon-smollm2.csv"),
    ("Intel(R) Xeon(R) Processor", "smollm2", 2, None),  # measured with one thread only
    ("Intel(R) Xeon(R) Processor", "tiny-llama", 1, None),
    ("Apple M3", "smollm2", 1, None),
])
def test_validate_prices_by_the_committed_profile_of_this_cpu(monkeypatch, cpu, model, threads,
                                                               profile):
    import profiler.hardware
    from profiler.committed import profile_of_this_cpu

    monkeypatch.setattr(profiler.hardware, "cpu_name", lambda: cpu)
    found = profile_of_this_cpu(model, threads)
    assert (found and found.name) == profile
