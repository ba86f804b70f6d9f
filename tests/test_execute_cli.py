"""`simulate execute`: every bad input is one line and exit 2, before any model loads."""

import json

import pytest

from tests.test_cli_errors import _run

FIXED = ["execute", "--trace", "fixed", "--num-prompts", "2", "--prompt-tokens", "8",
         "--output-tokens", "4", "--no-progress"]


@pytest.mark.parametrize("extra,message", [
    (["--skip-rates", "0.2", "--skip-mode", "router"], "only apply to --skip-mode random"),
    (["--skip-mode", "no-skip", "--skip-target", "0.9"], "only apply to --skip-mode router"),
    (["--device", "tpu"], "--device must be cpu or cuda"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--dtype", "int8"], "--dtype must be one of"),
    (["--num-gpus", "2"], "--num-gpus must be 1"),
    (["--policy", "nope"], "unknown policy"),
    (["--kv-policy", "nope"], "unknown KV policy"),
    (["--records-format", "xls"], "--records-format"),
    (["--checkpoints", "8,4,4,4,4,2,2,2"], "SkipProfile was made for checkpoints"),
    (["--skip-config", "missing.json"], "does not exist"),
    (["--skip-mode", "random", "--skip-rates", "2"], "must lie in [0, 1]"),
    (["--gpu-memory", "0.0001"], "exceed"),
])
def test_bad_input_is_one_line_and_exit_2(extra, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _run(FIXED + extra, capsys)
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_a_model_folder_that_is_not_llama_or_qwen(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    code, err = _run(FIXED + ["--model", str(tmp_path)], capsys)
    assert code == 2 and len(err) == 1 and "not supported" in err[0]


def test_a_missing_trace_file(capsys, tmp_path):
    code, err = _run(["execute", "--trace", str(tmp_path / "t.jsonl")], capsys)
    assert code == 2 and len(err) == 1 and "not found" in err[0]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_gpu_is_one_line(capsys):
    code, err = _run(FIXED + ["--device", "cuda"], capsys)
    assert code == 2 and len(err) == 1 and "CUDA" in err[0]


def test_a_skip_profile_made_for_another_model(tmp_path, capsys):
    from simulator.skip_models.measured import DEFAULT_PROFILE

    profile = json.loads(DEFAULT_PROFILE.read_text())
    profile["model"] = "llama-3-8b"
    path = tmp_path / "other.json"
    path.write_text(json.dumps(profile))
    code, err = _run(FIXED + ["--skip-config", str(path)], capsys)
    assert code == 2 and len(err) == 1 and "made for model 'llama-3-8b'" in err[0]
