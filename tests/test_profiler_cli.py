"""`simulate profile`: bad input is one line on stderr and exit code 2."""

import pytest

from profiler.hardware import resolve_device
from skipsim.cli import main
from skipsim.errors import UserError
from tests.test_profiler_fitted import synthetic_profile


@pytest.mark.parametrize("argv, message", [
    (["profile", "--device", "tpu", "--out", "x.csv"], "unknown device 'tpu'"),
    (["profile", "--device", "cuda", "--out", "x.csv"], "no CUDA GPU"),
    (["profile", "--device", "cpu:1", "--out", "x.csv"], "unknown device"),
    (["profile", "--out", "x.txt"], "saved as .csv or .parquet"),
    (["profile"], "needs --out FILE"),
    (["profile", "--show", "missing.csv"], "does not exist"),
    (["profile", "--quick", "--grid", "full", "--out", "x.csv"], "different grids"),
    (["profile", "--model", "llama-3-8b", "--out", "x.csv"], "neither 'smollm2'"),
    (["profile", "--threads", "0", "--out", "x.csv"], "--threads must be >= 1"),
    (["profile", "--compare", "a.csv", "--out", "x.csv"], "go with --show FILE"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_garbled_profile_given_to_show(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("component,median_s\nlayer,oops\n")
    (tmp_path / "bad.json").write_text("[]")
    assert main(["profile", "--show", str(bad)]) == 2
    assert "profile metadata lacks" in capsys.readouterr().err


def test_show_prints_the_fit_and_its_held_out_error(tmp_path, capsys):
    assert main(["profile", "--show", str(synthetic_profile(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "layer: block time, per decoder layer" in out
    assert "held-out median APE" in out
    assert "roofline" in out


def test_compare_reports_zero_for_a_profile_against_itself(tmp_path, capsys):
    path = str(synthetic_profile(tmp_path))
    assert main(["profile", "--show", path, "--compare", path]) == 0
    out = capsys.readouterr().out
    assert "layer            0.0% over 60 points" in out
    assert "lookup/flat      0.0% over 12 points" in out


def test_save_fit_writes_a_cost_model_file(tmp_path, capsys):
    from profiler.cost_model import BatchShape
    from profiler.fitted import MeasuredCostModel

    path = synthetic_profile(tmp_path)
    fit = tmp_path / "s.fit.json"
    assert main(["profile", "--show", str(path), "--save-fit", str(fit)]) == 0
    batch = BatchShape(decode_context_lens=(256,) * 8)
    assert (MeasuredCostModel(profile=fit).block_time_s(3, batch)
            == MeasuredCostModel(profile=path).block_time_s(3, batch))
    assert main(["profile", "--show", str(path), "--save-fit", str(tmp_path / "x.json")]) == 2


def test_resolve_device_on_this_machine():
    assert resolve_device("CPU") == "cpu"
    with pytest.raises(UserError):
        resolve_device("cuda:x")
