"""Arrival processes: the statistics vLLM's --request-rate/--burstiness promise."""

import math

import numpy as np
import pytest

from skipsim.errors import UserError
from traces.arrivals import gamma_arrivals, replay_arrivals

N = 200_000


def test_poisson_gaps_have_mean_one_over_rate_and_cv_one():
    gaps = np.diff(gamma_arrivals(N, 4.0, 1.0, np.random.default_rng(0)))
    assert gaps.mean() == pytest.approx(0.25, rel=0.01)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("burstiness", [0.25, 4.0])
def test_gamma_gaps_have_cv_one_over_sqrt_burstiness(burstiness):
    gaps = np.diff(gamma_arrivals(N, 2.0, burstiness, np.random.default_rng(1)))
    assert gaps.mean() == pytest.approx(0.5, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1 / math.sqrt(burstiness), rel=0.03)


def test_first_request_arrives_at_zero_and_infinite_rate_sends_all_at_once():
    assert gamma_arrivals(5, 1.0, 1.0, np.random.default_rng(0))[0] == 0.0
    assert np.all(gamma_arrivals(5, math.inf, 1.0, np.random.default_rng(0)) == 0.0)


def test_same_seed_same_arrivals():
    a = gamma_arrivals(100, 3.0, 0.5, np.random.default_rng(42))
    b = gamma_arrivals(100, 3.0, 0.5, np.random.default_rng(42))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("rate,burstiness", [(0, 1), (-1, 1), (1, 0), (1, -2), (float("nan"), 1)])
def test_impossible_rates_are_user_errors(rate, burstiness):
    with pytest.raises(UserError):
        gamma_arrivals(10, rate, burstiness, np.random.default_rng(0))


def test_replay_shifts_to_zero_and_needs_enough_timestamps(tmp_path):
    f = tmp_path / "times.txt"
    f.write_text("10.5\n11\n12.25\n")
    assert replay_arrivals(f, 3).tolist() == [0.0, 0.5, 1.75]
    with pytest.raises(UserError, match="holds 3"):
        replay_arrivals(f, 4)
    with pytest.raises(UserError, match="not found"):
        replay_arrivals(tmp_path / "nope.txt", 1)
