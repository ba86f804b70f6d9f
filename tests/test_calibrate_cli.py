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
    ["calibrate", "--show", "/nonexistent/profile.json"],
])
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simulate: error:") and "\n" not in err


def test_empty_bank_is_a_user_error():
    from skipsim.errors import UserError

    empty = SkipExamples(1, (2, 3), np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0),
                         np.zeros((0, 2), bool), np.zeros((0, 2, 4), np.float32), np.zeros(0, int))
    for name in ("cosine", "knn", "probe", "never"):
        with pytest.raises(UserError):
            make_router(name, empty)
