"""`simulate plan` and plan files: written, read back by `simulate run --plan`,
refused for another model; infeasible requests are one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from policies.placement.plan_file import load_plan, read_plan
from skipsim.cli import main
from skipsim.errors import UserError
from skipsim.model_spec import model_spec

FIXED = ["--trace", "fixed", "--num-prompts", "20", "--prompt-tokens", "64",
         "--output-tokens", "32"]


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    assert main(["plan", *FIXED, "--request-rate", "0.1", "--min-agreement", "0.9",
                 "--batch", "1", "--out", str(path)]) == 0
    return path


def test_plan_file_holds_the_plan_and_its_inputs(plan_path):
    raw = json.loads(plan_path.read_text())
    choice = load_plan(plan_path, model_spec("smollm2"))
    assert raw["schema"] == "skipsim.plan/1" and choice.boundaries[0] == 0
    assert choice.boundaries[-1] == 30 and len(choice.routers) == len(choice.boundaries) - 2
    assert {"cost_model", "skip_profile", "min_agreement"} <= set(choice.inputs)
    assert choice.inputs["min_agreement"] == 0.9
    assert {c.layer for c in choice.skip_profile.checkpoints} == set(choice.operating_points)
    assert choice.predicted["agreement"] >= 0.9


def test_simulate_run_reads_the_plan(plan_path, tmp_path, capsys):
    choice = read_plan(plan_path)
    assert main(["run", "--plan", str(plan_path), *FIXED, "--request-rate", "0.1",
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["checkpoints"] == choice.checkpoints
    assert tuple(config["bank_entries"]) == choice.bank_entries


def test_a_plan_for_another_model_is_one_line(plan_path, capsys):
    with pytest.raises(UserError, match="is for SmolLM2-135M-Instruct .30 layers., not Llama-3-8B"):
        load_plan(plan_path, model_spec("llama-3-8b"))
    assert main(["run", "--plan", str(plan_path), "--model", "llama-3-8b", *FIXED]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simulate: error: plan")


@pytest.mark.parametrize("argv,words", [
    (["--objective", "throughput", "--tpot-slo-ms", "0.001"], "TPOT SLO 0.001 ms cannot be met"),
    (["--model", "llama-3-70b", "--device", "h100-sxm", "--num-gpus", "1"],
     "exceed the 74.51 GiB of GPU memory"),
    (["--model", "llama-3-70b", "--device", "h100-sxm", "--num-gpus", "0"],
     "--num-gpus must lie in [1, 80]"),
    (["--min-agreement", "1.5"], "--min-agreement must lie in [0, 1]"),
])
def test_infeasible_requests_name_the_constraint(argv, words, tmp_path, capsys):
    assert main(["plan", *FIXED, *argv, "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_help_does_not_import_pulp():
    code = ("import sys; from skipsim.cli import build_parser; build_parser(); "
            "print('pulp' in sys.modules, 'policies.placement.workflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_confirm_simulates_every_row_at_its_own_batch(tmp_path, capsys):
    """--confirm prints the simulator's TPOT beside each row's prediction; the
    plan file records the ILP plan's own operating batch and its TPOT."""
    path = tmp_path / "plan.json"
    assert main(["plan", *FIXED, "--request-rate", "0.5", "--min-agreement", "0.9",
                 "--confirm", "--no-progress", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " | " in line][1:]
    assert len(rows) == 6 and all(len(r.split("|")[1].split()) == 5 for r in rows)
    sim_tpot = [float(r.split("|")[1].split()[0]) for r in rows]
    assert all(t > 0 for t in sim_tpot)
    predicted = json.loads(path.read_text())["predicted"]
    assert predicted["operating_batch"] >= 1 and predicted["tpot_s"] > 0
    assert (tmp_path / "plan-confirm" / "row5.json").exists()
