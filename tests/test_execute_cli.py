"""`simulate execute`: every bad input is one line and exit 2, before any model loads."""

import json

import pytest

FIXED = ["execute", "--trace", "fixed", "--num-prompts", "2", "--prompt-tokens", "8",
         "--output-tokens", "4", "--no-progress"]


@pytest.mark.parametrize("extra,message", [
    (["--skip-rates", "0.2", "--skip-mode", "router"], "only apply to --skip-mode random"),
    (["--skip-mode", "no-skip", "--skip-target", "0.9"], "only apply to --skip-mode router"),
    (["--device", "tpu"], "--device must be cpu or cuda"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--dtype", "int8"], "--dtype must be one of"),
    (["--num-gpus", "2"], "--num-gpus must be 1"),
    (["--policy", "nope"], "invalid choice"),
    (["--kv-policy", "nope"], "invalid choice"),
    (["--records-format", "xls"], "--records-format"),
    (["--checkpoints", "8,4,4,4,4,2,2,2"], "SkipProfile was made for checkpoints"),
    (["--skip-config", "missing.json"], "does not exist"),
    (["--skip-mode", "random", "--skip-rates", "2"], "must lie in [0, 1]"),
    (["--gpu-memory", "0.0001"], "exceed"),
    (["--timeline-sample", "3"], "apply to simulate run only"),
    (["--prompt-tokens", "9000"], "context window"),
])
def test_bad_input_is_one_line_and_exit_2(extra, message, user_error, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    user_error(FIXED + extra, message)


def test_a_model_folder_that_is_not_llama_or_qwen(tmp_path, user_error):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    user_error(FIXED + ["--model", str(tmp_path)], "not supported")


def test_a_missing_trace_file(user_error, tmp_path):
    user_error(["execute", "--trace", str(tmp_path / "t.jsonl")], "not found")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_gpu_is_one_line(user_error):
    user_error(FIXED + ["--device", "cuda"], "CUDA")


def test_a_skip_profile_made_for_another_model(tmp_path, user_error):
    from simulator.skip_models.measured import DEFAULT_PROFILE

    profile = json.loads(DEFAULT_PROFILE.read_text())
    profile["model"] = "llama-3-8b"
    path = tmp_path / "other.json"
    path.write_text(json.dumps(profile))
    user_error(FIXED + ["--skip-config", str(path)], "made for model 'llama-3-8b'")
