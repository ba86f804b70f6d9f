"""Threshold calibration on synthetic scores: the target agreement holds on held-out data."""

import numpy as np
import pytest

from policies.routers.base import decide
from policies.routers.threshold import NEVER, calibrate_thresholds, check_target, error_curve
from skipsim.errors import UserError


def synthetic(n, rng, landings=3):
    """Scores that are noisy probabilities of safety; safety drawn from them."""
    p = rng.beta(2, 1, size=(n, landings)) * np.array([1.0, 0.9, 0.7])
    safe = rng.random((n, landings)) < p
    scores = p + rng.normal(0, 0.05, size=p.shape)
    return scores, safe


def agreement(scores, safe, tau):
    idx = decide(scores, tau)
    hit = idx >= 0
    wrong = hit & ~safe[np.arange(len(idx)), np.maximum(idx, 0)]
    return 1 - wrong.mean(), hit.mean()


@pytest.mark.parametrize("target", [0.9, 0.95, 0.98])
def test_calibrated_threshold_reaches_target_on_held_out_data(target):
    rng = np.random.default_rng(1)
    cal = {c: synthetic(4000, rng) for c in (1, 2)}
    test = {c: synthetic(20000, rng) for c in (1, 2)}
    taus = calibrate_thresholds({c: error_curve(*cal[c]) for c in cal}, 4000, target)
    errors = sum(1 - agreement(*test[c], taus[c])[0] for c in test)  # union bound per token
    hit_rates = [agreement(*test[c], taus[c])[1] for c in test]
    assert 1 - errors >= target - 0.01  # finite-sample slack of the held-out estimate
    assert min(hit_rates) > 0.05        # and it does skip something


def test_impossible_target_never_skips():
    rng = np.random.default_rng(2)
    scores, safe = synthetic(200, rng)
    safe[:] = False
    taus = calibrate_thresholds({1: error_curve(scores, safe)}, 200, 0.99)
    assert taus == {1: NEVER}
    assert (decide(scores, NEVER) == -1).all()


def test_decide_takes_the_deepest_landing_reaching_the_threshold():
    scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.4], [0.9, 0.1, 0.95]])
    assert decide(scores, 0.5).tolist() == [1, -1, 2]


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.01, 2])
def test_target_outside_unit_interval_is_a_user_error(bad):
    with pytest.raises(UserError):
        check_target(bad)
