"""Which skip model a run gets: measured behaviour by default, parametric on request."""

import argparse

import pytest

from simulator import cli
from skipsim.errors import UserError


def _config(*argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.sim_config(parser.parse_args(list(argv)))


def test_a_run_without_skip_flags_samples_the_committed_skip_profile():
    from profiler.calibration.skip_profile import SkipProfile
    from simulator.run import Setup
    from simulator.skip_models.measured import DEFAULT_PROFILE, MeasuredSkipModel

    model = Setup(_config()).skip_model
    assert isinstance(model, MeasuredSkipModel)
    assert model.profile == SkipProfile.load(DEFAULT_PROFILE)
    assert float(model.target) == model.profile.target_agreement


def test_parametric_flags_select_the_parametric_model():
    cfg = _config("--skip-rates", "0.2", "--exit-prob", "0.1")
    assert cfg.skip_model == "parametric" and cfg.skip_options["hit_rates"] == "0.2"


def test_parametric_flags_with_another_model_are_refused():
    with pytest.raises(UserError, match="only apply to --skip-model parametric"):
        _config("--skip-model", "measured", "--p-change", "0.1")


def test_measured_model_reads_a_given_profile(tmp_path):
    from policies.checkpoint_plan import CheckpointPlan
    from simulator.components import build_skip_model

    plan = CheckpointPlan.parse("8,4,4,4,4,2,2,2", 30)
    with pytest.raises(UserError):
        build_skip_model("measured", plan, {"skip_config": str(tmp_path / "missing.json")})
    model = build_skip_model("measured", plan, {"skip_config": None})
    assert model.label.startswith("measured")


def test_skip_target_picks_another_calibrated_target_of_the_profile():
    from policies.checkpoint_plan import CheckpointPlan
    from simulator.components import build_skip_model

    plan = CheckpointPlan.parse("8,4,4,4,4,2,2,2", 30)
    cfg = _config("--skip-target", "0.9")
    model = build_skip_model("measured", plan, cfg.skip_options)
    assert float(model.target) == 0.9 and model.label.endswith("@ 0.9")
    with pytest.raises(UserError, match="no figures for target"):
        build_skip_model("measured", plan, _config("--skip-target", "0.42").skip_options)


def test_a_skip_model_landing_outside_the_plan_is_refused():
    import numpy as np

    from policies.checkpoint_plan import CheckpointPlan
    from simulator.skip_model import SkipModel, SkipOutcome

    class Backwards(SkipModel):
        name = "backwards"

        def decide(self, plan, at, request_ids, token_indices, rng):
            return SkipOutcome(np.full(len(request_ids), at - 1), np.zeros(len(request_ids)))

    plan = CheckpointPlan.parse("8,4,4,4,4,2,2,2", 30)
    with pytest.raises(ValueError, match="landed outside"):
        Backwards().decide_hits(plan, 2, np.arange(3), np.zeros(3, int), np.random.default_rng(0))
