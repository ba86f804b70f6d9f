"""Block shortcuts: the least-squares fit recovers a known linear map."""

import numpy as np
import pytest

from policies.actions import SKIP_ACTIONS
from policies.actions.shortcut import BlockShortcut


def known_map(rng, n=3000, d=12):
    a = np.eye(d) + 0.3 * rng.normal(size=(d, d))
    b = rng.normal(size=d)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 20, d)   # scales differ per coordinate
    return x, x @ a.T + b, a, b


def test_shortcut_recovers_a_known_affine_map():
    rng = np.random.default_rng(0)
    x, y, a, b = known_map(rng)
    sc = BlockShortcut(x, y, ridge=1e-9)
    fitted_a, fitted_b = sc.matrix()
    assert np.allclose(fitted_a, a, atol=1e-4) and np.allclose(fitted_b, b, atol=1e-3)
    x_new = rng.normal(size=(50, 12))
    assert np.allclose(sc.apply(x_new.astype(np.float32)), x_new @ a.T + b, atol=1e-3)


def test_shortcut_with_noise_beats_the_identity_on_held_out_states():
    rng = np.random.default_rng(1)
    x, y, _, _ = known_map(rng)
    y = y + rng.normal(0, 0.5, y.shape)
    sc = BlockShortcut(x[:2000], y[:2000])
    err = np.linalg.norm(sc.apply(x[2000:].astype(np.float32)) - y[2000:])
    assert err < 0.2 * np.linalg.norm(x[2000:] - y[2000:])


def test_low_rank_shortcut_is_exact_for_a_low_rank_residual():
    rng = np.random.default_rng(2)
    d = 12
    u, v = rng.normal(size=(d, 2)), rng.normal(size=(2, d))
    x = rng.normal(size=(2000, d))
    y = x + x @ (u @ v) + 1.0
    sc = BlockShortcut(x, y, ridge=1e-9, rank=2)
    assert np.allclose(sc.apply(x.astype(np.float32)), y, atol=1e-3)


@pytest.mark.parametrize("rank,macs", [(None, 576 * 576), (16, 2 * 576 * 16)])
def test_shortcut_costs_d_squared_or_two_d_r_multiply_adds(rank, macs):
    assert SKIP_ACTIONS["shortcut"](rank=rank).macs_per_token(576) == macs
    assert SKIP_ACTIONS["identity"]().macs_per_token(576) == 0
