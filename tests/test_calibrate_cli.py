"""`simulate calibrate` refuses bad input with one line and exit code 2 (no model loaded)."""

import numpy as np
import pytest

from policies.routers.base import SkipExamples, make_router
from skipsim.cli import main


@pytest.mark.parametrize("argv", [
    ["calibrate", "--checkpoints", "8,4,4"],                 # covers 16 of 30 layers
    ["calibrate", "--checkpoints", "0,8,40"],                # beyond the last layer
    ["calibrate", "--checkpoints", "0,12,8,30"],             # not rising
    ["calibrate", "--checkpoints", "30"],                    # no inner checkpoint
    ["calibrate", "--target-agreement", "0"],
    ["calibrate", "--target-agreement", "1.5"],
    ["calibrate", "--compare-routers", "nope"],
    ["calibrate", "--compare-kv-policies", "project,nope"],
    ["calibrate", "--bank-fractions", "0.5,2"],
    ["calibrate", "--bank-fractions", "half"],
    ["calibrate", "--static-layers", "0"],
    ["calibrate", "--static-layers", "30"],                  # the model has 30 layers
    ["calibrate", "--static-layers", "two"],
    ["calibrate", "--show", "/nonexistent/profile.json"],
    ["calibrate", "--calibration-prompts", "10", "--held-out-from", "9"],   # overlaps
    ["calibrate", "--compare-actions", "identity,teleport"],
    ["calibrate", "--learning-curve", "0,1"],
])
def test_bad_input_is_one_line_and_exit_2(argv, user_error):
    user_error(argv)


def test_empty_bank_is_a_user_error():
    from skipsim.errors import UserError

    empty = SkipExamples(1, (2, 3), np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0),
                         np.zeros((0, 2), bool), np.zeros((0, 2, 4), np.float32), np.zeros(0, int))
    for name in ("cosine", "knn", "probe", "never"):
        with pytest.raises(UserError):
            make_router(name, empty)


def test_explicit_flags_beat_the_quick_preset():
    import argparse

    from profiler.calibration.cli import add_arguments, config_from_args
    from profiler.calibration.config import QUICK, CalibrationConfig

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    quick = config_from_args(parser.parse_args(["--quick"]))
    assert quick.num_calibration_prompts == QUICK["num_calibration_prompts"]
    assert quick.router == CalibrationConfig().router
    mixed = config_from_args(parser.parse_args(
        ["--quick", "--static-layers", "1,3", "--bank-fractions", "0.2,1",
         "--calibration-prompts", "5", "--compare-kv-policies", "copy"]))
    assert mixed.static_layer_counts == (1, 3) and mixed.bank_fractions == (0.2, 1.0)
    assert mixed.num_calibration_prompts == 5 and mixed.compare_kv_policies == ("copy",)
    assert mixed.max_new_tokens == QUICK["max_new_tokens"]


def test_show_prints_every_section_of_the_committed_profile(capsys):
    from simulator.skip_models.measured import DEFAULT_PROFILE

    assert main(["calibrate", "--show", str(DEFAULT_PROFILE)]) == 0
    out = capsys.readouterr().out
    for section in ("per checkpoint at target", "bank size sweep", "live calibration of",
                    "live decoding on held-out prompts", "static-BI",
                    "at equal skipped fraction", "comparable points"):
        assert section in out, section
