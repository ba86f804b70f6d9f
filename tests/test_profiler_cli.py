"""`simulate profile`: bad input is one line on stderr and exit code 2."""

import pytest

from profiler.hardware import resolve_device
from skipsim.cli import main
from skipsim.errors import UserError
from tests.test_profiler_fitted import synthetic_profile


@pytest.mark.parametrize("argv, message", [
    (["profile", "--device", "tpu", "--out", "x.csv"], "unknown device 'tpu'"),
    (["profile", "--device", "cpu:1", "--out", "x.csv"], "unknown device"),
    (["profile", "--out", "x.txt"], "expected a .csv or .parquet file"),
    (["profile"], "needs --out FILE"),
    (["profile", "--show", "missing.csv"], "does not exist"),
    (["profile", "--quick", "--grid", "full", "--out", "x.csv"], "different grids"),
    (["profile", "--model", "llama-3-8b", "--out", "x.csv"], "neither 'smollm2'"),
    (["profile", "--threads", "0", "--out", "x.csv"], "--threads must be >= 1"),
    (["profile", "--compare", "a.csv", "--out", "x.csv"], "go with --show FILE"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, user_error, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_error(argv, message)


@pytest.mark.parametrize("gpus, device, message", [
    (0, "cuda", "no CUDA GPU"),
    (0, "cuda:1", "no CUDA GPU"),
    (1, "cuda:1", "this machine has 1 CUDA GPU(s)"),
])
def test_cuda_devices_are_checked_against_the_machine(gpus, device, message, user_error,
                                                      tmp_path, monkeypatch):
    """The machine's GPUs are stubbed, so this holds with and without a CUDA GPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.chdir(tmp_path)
    user_error(["profile", "--device", device, "--out", "x.csv"], message)


def test_garbled_profile_given_to_show(tmp_path, user_error):
    bad = tmp_path / "bad.csv"
    bad.write_text("component,median_s\nlayer,oops\n")
    (tmp_path / "bad.json").write_text("[]")
    user_error(["profile", "--show", str(bad)], "profile metadata lacks")


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
    assert not (tmp_path / "x.json").exists()


def test_resolve_device_on_this_machine():
    assert resolve_device("CPU") == "cpu"
    with pytest.raises(UserError):
        resolve_device("cuda:x")
