"""Each plan's operating batch is Little's law at its own TPOT, seen by a token:
B = N + 1 with N = rate × output tokens × TPOT(N + 1)."""

from __future__ import annotations

import pytest

from policies.placement.batch import little_batch


@pytest.mark.parametrize("rate,out", [(0.02, 197.0), (0.1, 197.0), (1.0, 50.0)])
def test_affine_rounds_give_the_closed_form_fixed_point(rate, out):
    """TPOT(b) = a + c·b: N = r·o·(a + c·(N + 1)) -> N = r·o·(a + c) / (1 - r·o·c)."""
    a, c = 0.08, 0.012
    b, tpot = little_batch(lambda k: a + c * k, rate, out, 64)
    n = rate * out * (a + c) / (1 - rate * out * c)
    assert b == pytest.approx(n + 1, rel=1e-6)
    assert tpot == pytest.approx(a + c * b, rel=1e-6)


def test_the_batch_cap_binds_when_the_rounds_cannot_keep_up():
    # every extra request adds more round time than its share of the arrivals
    assert little_batch(lambda k: 0.5 * k, 1.0, 100.0, 32) == (32.0, 16.0)
    assert little_batch(lambda k: 0.5 * k, None, 100.0, 32) == (32.0, 16.0)


def test_a_slower_plan_keeps_more_requests_in_flight():
    fast, _ = little_batch(lambda k: 0.10 + 0.02 * k, 0.1, 197.0, 256)
    slow, _ = little_batch(lambda k: 0.10 + 0.03 * k, 0.1, 197.0, 256)
    assert slow > fast + 0.5
