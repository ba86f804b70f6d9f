"""`simulate run`: bad input is one line and exit 2; a seeded run writes
every output and matches the committed fixture."""

import json
from pathlib import Path

import pandas as pd
import pytest

from skipsim.cli import main
from skipsim.model_spec import model_spec

FIXTURE = Path(__file__).parent / "fixtures" / "sim_example_summary.json"
EXAMPLE = ["--trace", "fixed", "--num-prompts", "30", "--prompt-tokens", "64",
           "--output-tokens", "16", "--request-rate", "4", "--seed", "0",
           "--checkpoints", "10,10,6,4", "--skip-rates", "0.3", "--exit-prob", "0.2",
           "--cost-model", "roofline", "--no-progress"]
# metrics compared with the fixture (exact up to float printing)
COMPARED = ("completed", "duration_s", "request_throughput_per_s", "ttft_s", "tpot_s", "e2e_s",
            "layers_per_decode_token", "skipped_layer_fraction", "lookups_per_decode_token",
            "preemptions", "expected_agreement", "steps", "token_block_executions")


@pytest.mark.parametrize("argv,message", [
    (["--policy", "nope"], "invalid choice: 'nope'"),
    (["--scheduler", "nope"], "invalid choice: 'nope'"),
    (["--checkpoints", "8,8,8"], "covers 24 layers"),
    (["--checkpoints", "8,x"], "comma-separated integers"),
    (["--request-rate", "-1"], "must be positive"),
    (["--gpu-memory", "0.3"], "exceed"),
    (["--bank-fraction", "0.99", "--gpu-memory", "1"], "exceed"),
    (["--kv-policy", "magic"], "invalid choice: 'magic'"),
    (["--skip-model", "oracle"], "invalid choice: 'oracle'"),
    (["--cost-model", "nope"], "unknown cost model"),
    (["--device", "tpu"], "unknown device"),
    (["--skip-rates", "0.1,0.2"], "inner checkpoints"),
    (["--skip-rates", "1.5"], "[0, 1]"),
    (["--skip-model", "replay"], "needs --skip-config"),
    (["--skip-model", "replay", "--skip-config", "missing.csv"], "not found"),
    (["--goodput", "ttft"], "KEY:MILLISECONDS"),
    (["--lookup-placement", "tpu"], "gpu or cpu"),
    (["--num-gpus", "99"], "exceeds"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, user_error, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_error(["--trace", "fixed", "--num-prompts", "2", "--no-progress"] + argv, message)


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--skip-rates" in out and "80% of the simulated" in out


def test_request_too_long_for_the_kv_cache(user_error, tmp_path):
    spec = model_spec("smollm2")
    gib = (spec.weight_bytes + 100 * spec.kv_bytes_per_token_per_layer * 30) / 2**30
    user_error(["--trace", "fixed", "--num-prompts", "2", "--request-rate", "1",
                "--gpu-memory", f"{gib:.6f}", "--bank-fraction", "0", "--out", str(tmp_path)],
               "does not fit the KV cache")


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def _example(tmp_path, capsys, extra=()):
    code = main(["run", *EXAMPLE, "--out", str(tmp_path / "out"), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, json.loads((tmp_path / "out" / "summary.json").read_text())


def test_seeded_example_matches_fixture(tmp_path, capsys):
    """Regenerate after an intended change with:
    python -c 'from tests.test_sim_cli import regenerate; regenerate()'"""
    out, summary = _example(tmp_path, capsys)
    assert "analytic roofline: cpu" in out and "expected agreement" in out
    expected = json.loads(FIXTURE.read_text())
    got = _flat({k: summary["skipsim"][k] for k in COMPARED})
    assert got == pytest.approx(_flat(expected), rel=1e-9)
    records = pd.read_csv(tmp_path / "out" / "requests.csv")
    assert len(records) == 30 and (records["output_tokens"] == 16).all()
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["config"]["checkpoints"] == "10,10,6,4" and config["config"]["seed"] == 0
    for key in ("mean_ttft_ms", "p99_tpot_ms", "median_e2el_ms", "request_throughput"):
        assert key in summary  # vLLM bench's names


def test_timeline_and_parquet(tmp_path, capsys):
    _example(tmp_path, capsys, ["--timeline", str(tmp_path / "t.json"),
                                "--records-format", "parquet", "--goodput", "ttft:500"])
    trace = json.loads((tmp_path / "t.json").read_text())
    names = {e["name"] for e in trace["traceEvents"] if e.get("ph") == "X"}
    assert {"block 0", "block 3"} <= names
    assert len(pd.read_parquet(tmp_path / "out" / "requests.parquet")) == 30
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "request_goodput" in summary


def test_default_rate_comes_from_a_saturation_probe(tmp_path, capsys):
    code = main(["--trace", "fixed", "--num-prompts", "20", "--prompt-tokens", "32",
                 "--output-tokens", "8", "--no-progress", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0 and "80% of the simulated capacity" in captured.err


def regenerate():  # pragma: no cover - a maintenance helper
    import tempfile

    from simulator.cli import run  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        assert main(["run", *EXAMPLE, "--out", tmp]) == 0
        summary = json.loads((Path(tmp) / "summary.json").read_text())["skipsim"]
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps({k: summary[k] for k in COMPARED}, indent=2) + "\n")


def test_replayed_arrival_times(tmp_path, capsys):
    times = tmp_path / "arrivals.txt"
    times.write_text("0\n0.5\n1.0\n")
    code = main(["--trace", "fixed", "--num-prompts", "3", "--arrival-times", str(times),
                 "--no-progress", "--out", str(tmp_path / "out")])
    assert code == 0 and "replayed arrival times" in capsys.readouterr().out
