"""`simulate plan` on pipeline stages: a model that does not fit one GPU is
planned on the fewest that hold it, the plan file carries the GPU count to
`simulate run --plan`, and the what-if confirms on the same stages."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from policies.checkpoint_plan import CheckpointPlan
from policies.memory_split import memory_split
from policies.placement.plan_file import read_plan
from policies.placement.stages import kv_bytes_per_request, resolve_num_gpus, stage_problem, staged
from profiler.devices import device_spec
from skipsim.cli import main
from skipsim.model_spec import model_spec

FIXED = ["--trace", "fixed", "--num-prompts", "20", "--prompt-tokens", "64",
         "--output-tokens", "32"]
TOKENS = 96.0  # prompt + output of FIXED


def _auto(model: str, device: str) -> int:
    spec, dev = model_spec(model), device_spec(device)
    return resolve_num_gpus(spec, dev.memory_bytes, TOKENS, None, dev.name)[0]


@pytest.mark.parametrize("model,device,gpus", [
    ("llama-3-70b", "h100-sxm", 2),
    ("llama-3-70b", "h200", 2),   # 141 GB = 131.3 GiB < 131.42 GiB of weights
    ("llama-3-8b", "h100-sxm", 1),
])
def test_auto_takes_the_fewest_gpus_that_hold_weights_and_one_request(model, device, gpus):
    spec, gpu = model_spec(model), device_spec(device).memory_bytes
    assert _auto(model, device) == gpus
    one = kv_bytes_per_request(spec, TOKENS)
    assert gpus * gpu >= spec.weight_bytes + one > (gpus - 1) * gpu


def test_the_note_names_model_device_and_count():
    spec, dev = model_spec("llama-3-70b"), device_spec("h100-sxm")
    _, note = resolve_num_gpus(spec, dev.memory_bytes, TOKENS, None, dev.name)
    assert note == ("Llama-3-70B (131.42 GiB of weights) does not fit one H100-SXM "
                    "(74.51 GiB): planned on 2 GPUs as pipeline stages (--num-gpus 2 to set)")
    assert resolve_num_gpus(spec, dev.memory_bytes, TOKENS, 3, dev.name) == (3, "")


def test_balanced_stages_hold_the_pooled_kv_cache():
    """The planner pools N GPUs; the simulator takes the tightest GPU's KV room.
    On the balanced stages a plan without routers runs on, the two agree to
    within a KV block per stage."""
    spec, gpu = model_spec("llama-3-70b"), device_spec("h100-sxm").memory_bytes
    bounds, entries = staged((0, 80), (), 2)
    assert bounds == (0, 40, 80) and entries == (0,)
    split = memory_split(spec, CheckpointPlan(bounds), gpu, 0.0, True, 2, 16, 8, entries)
    pooled_tokens = (2 * gpu - spec.weight_bytes) / split.kv_bytes_per_token
    assert pooled_tokens - 2 * 16 <= split.kv_capacity_tokens <= pooled_tokens


def test_unbalanced_blocks_are_refused_by_the_per_gpu_accounting():
    """50 of 80 layers (~81 GiB of weights) cannot sit on one 80 GB GPU, though
    the pool of two holds the model; a one-router plan cannot make 3 stages."""
    spec, gpu = model_spec("llama-3-70b"), device_spec("h100-sxm").memory_bytes
    assert stage_problem(spec, (0, 40, 80), (100,), gpu, 2, 16, 8) == ""
    assert "exceed the 74.51 GiB of GPU 0" in stage_problem(spec, (0, 50, 80), (100,), gpu,
                                                             2, 16, 8)
    assert "exceeds the plan's 2 blocks" in stage_problem(spec, (0, 40, 80), (100,), gpu,
                                                          3, 16, 8)


@pytest.fixture(scope="module")
def plan_70b(tmp_path_factory):
    """The 70B what-if on H100s, confirmed by the simulator (auto: 2 GPUs)."""
    path = tmp_path_factory.mktemp("plan70b") / "plan.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["plan", *FIXED, "--model", "llama-3-70b", "--device", "h100-sxm",
                     "--min-agreement", "0.95", "--confirm", "--no-progress",
                     "--out", str(path)]) == 0
    return path, buf.getvalue()


def test_confirm_simulates_the_what_if_on_the_planned_gpus(plan_70b):
    path, out = plan_70b
    assert "planned on 2 GPUs as pipeline stages" in out
    assert "memory: 2 GPUs x 74.51 GiB" in out
    rows = [line for line in out.splitlines() if " | " in line][1:]
    assert len(rows) == 5 and all("not simulated" not in r for r in rows)
    assert all(float(r.split("|")[1].split()[0]) > 0 for r in rows)
    confirmed = path.parent / "plan-confirm"
    assert {read_plan(p).num_gpus for p in confirmed.glob("row*.json")} == {2}


def test_the_plan_file_carries_its_gpus_to_simulate_run(plan_70b, tmp_path, capsys):
    path, _ = plan_70b
    assert read_plan(path).num_gpus == 2
    common = ["run", "--plan", str(path), "--model", "llama-3-70b", "--device", "h100-sxm",
              *FIXED, "--request-rate", "1", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "run")]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["num_gpus"] == 2
    capsys.readouterr()
    assert main([*common, "--num-gpus", "1", "--out", str(tmp_path / "run1")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--num-gpus 1 differs from the 2 GPUs" in err[0]


def test_a_plan_file_without_num_gpus_is_one_gpu(plan_70b, tmp_path):
    raw = json.loads(plan_70b[0].read_text())
    del raw["num_gpus"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(raw))
    assert read_plan(old).num_gpus == 1
