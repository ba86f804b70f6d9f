"""`simulate execute --plan`: the real executor runs a plan from `simulate plan`
(issue 12): its checkpoints, each router at its own operating point on the
profile it was planned from, no skipping when it has no routers; flags the
plan replaces, plans for other hardware and routers the profile never
measured are one line and exit 2, before any model loads."""

from __future__ import annotations

import json

import pytest

from executor.cli import exec_config
from policies.placement.plan_file import PlanChoice, RouterChoice, write_plan
from simulator.skip_models.measured import DEFAULT_PROFILE
from skipsim.cli import build_parser

FIXED = ["execute", "--trace", "fixed", "--num-prompts", "2", "--prompt-tokens", "8",
         "--output-tokens", "4", "--no-progress"]
MODEL = "SmolLM2-135M-Instruct"


def _plan(tmp_path, bounds, routers, name="plan.json", **kw):
    inputs = {"skip_profile": str(DEFAULT_PROFILE)}
    choice = PlanChoice(MODEL, 30, tuple(bounds), tuple(RouterChoice(*r) for r in routers),
                        inputs=inputs, **kw)
    return str(write_plan(choice, tmp_path / name))


def _config(argv):
    return exec_config(build_parser("execute").parse_args(argv))


def test_a_plan_without_routers_runs_its_blocks_without_skipping(tmp_path):
    cfg = _config(FIXED + ["--plan", _plan(tmp_path, (0, 30), ())])
    assert cfg.skip_mode == "no-skip" and cfg.sim.checkpoints == "0,30"


def test_a_plan_with_routers_runs_them_at_their_operating_points(tmp_path):
    plan = _plan(tmp_path, (0, 10, 16, 30), ((10, "0.6", 2897), (16, "0.9", 2897)))
    cfg = _config(FIXED + ["--plan", plan])
    assert cfg.skip_mode == "router" and cfg.sim.checkpoints == "0,10,16,30"
    assert cfg.sim.skip_options["skip_config"] == str(DEFAULT_PROFILE)
    assert cfg.sim.skip_options["skip_targets_by_layer"] == {10: "0.6", 16: "0.9"}


@pytest.mark.parametrize("extra,message", [
    (["--checkpoints", "30"], "--plan brings its own checkpoints and routers: drop --checkpoints"),
    (["--skip-target", "0.9"], "drop --skip-target"),
    (["--skip-mode", "random"], "drop --skip-mode random"),
])
def test_flags_the_plan_replaces_are_refused(extra, message, tmp_path, user_error):
    plan = _plan(tmp_path, (0, 10, 30), ((10, "0.6", 2897),))
    user_error(FIXED + ["--plan", plan] + extra, message)


def test_a_plan_for_several_gpus_or_another_model_is_refused(tmp_path, user_error):
    two = _plan(tmp_path, (0, 30), (), "two.json", num_gpus=2)
    user_error(FIXED + ["--plan", two], "was made for 2 GPUs: the executor runs on one device")
    other = json.loads(open(_plan(tmp_path, (0, 30), ())).read())
    other.update(model="Llama-3-8B", num_layers=32, boundaries=[0, 32])
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    user_error(FIXED + ["--plan", str(path)], "Llama-3-8B")


def test_a_router_the_profile_never_measured_is_refused_before_loading(tmp_path, user_error):
    # layer 9 is no checkpoint of the default profile (the simulator would run it
    # as a router that never fires; the executor has no router to run there)
    plan = _plan(tmp_path, (0, 9, 10, 30), ((9, "0.9", 2897), (10, "0.9", 2897)))
    user_error(FIXED + ["--plan", plan], "the plan's routers 9@0.9 are not in the skip profile")
    unmeasured = _plan(tmp_path, (0, 10, 30), ((10, "0.5", 2897),), "target.json")
    user_error(FIXED + ["--plan", unmeasured], "no figures for '0.5' at layer 10")


FIXED_TRACE = ["--trace", "fixed", "--prompt-tokens", "32", "--output-tokens", "12",
               "--num-prompts", "3"]


def _decisions(tmp_path, name: str, extra: list, trace=FIXED_TRACE):
    import pandas as pd

    from skipsim.cli import main

    out = tmp_path / name
    assert main(["execute", *trace, "--out", str(out), "--no-progress", *extra]) == 0
    return pd.read_csv(out / "decisions.csv")


@pytest.mark.slow
def test_a_plan_of_the_profiles_own_routers_decides_as_the_profile(tmp_path, capsys):
    """The plan that keeps every checkpoint of the profile at its target takes
    the same decisions, token for token, as the profile run without a plan; a
    plan that drops checkpoints lands only on its own (slow: the real model and
    the profile's rebuilt banks)."""
    from profiler.calibration.skip_profile import SkipProfile

    profile = SkipProfile.load(DEFAULT_PROFILE)
    every = [(cp.layer, "0.8", 2897) for cp in profile.checkpoints]
    own = _plan(tmp_path, profile.boundaries, every, "own.json")
    with_plan = _decisions(tmp_path, "plan", ["--plan", own])
    without = _decisions(tmp_path, "profile", ["--skip-target", "0.8"])
    assert len(with_plan) > 0 and (with_plan["landing"] != with_plan["at"]).any()
    assert with_plan.equals(without)
    routers = ((10, "0.6", 2897), (16, "0.7", 2897), (24, "0.6", 2897))
    part = _decisions(tmp_path, "part", ["--plan", _plan(
        tmp_path, (0, 10, 16, 24, 30), routers, "part.json")],
        ["--trace", "sharegpt", "--num-prompts", "2", "--request-rate", "1"])
    assert set(part["at"]) == {1, 2, 3} and part["landing"].between(part["at"], 4).all()
    assert (part["landing"] != part["at"]).any()
