"""Routers on synthetic banks: two clusters of states, one safe to skip and one not."""

import numpy as np
import pytest

from policies.routers import ROUTERS, decide
from policies.routers.bank import SkipBank
from policies.routers.base import Query, SkipExamples, make_router
from skipsim.errors import UserError


def clusters(n, rng, d=16):
    centre = np.zeros((2, d), np.float32)
    centre[0, 0], centre[1, 1] = 5.0, 5.0
    which = rng.integers(0, 2, n)
    keys = centre[which] + rng.normal(0, 1, (n, d)).astype(np.float32)
    safe = np.stack([which == 0, (which == 0) & (rng.random(n) < 0.5)], 1)  # landing 1 deeper
    deltas = np.repeat(keys[:, None, :] * 0.1, 2, axis=1)
    ex = SkipExamples(1, (2, 3), keys, rng.random(n), np.where(which == 0, 0.5, 3.0), safe,
                      deltas, np.arange(n) // 10)
    return ex, which


@pytest.mark.parametrize("name", ["cosine", "knn", "probe", "gbt", "mlp"])
def test_router_separates_safe_from_unsafe_cluster(name):
    rng = np.random.default_rng(0)
    train, _ = clusters(600, rng)
    test, which = clusters(400, rng)
    router = make_router(name, train)
    s = router.scores(Query(test.keys, test.prev_cos, test.exit_entropy))
    assert s.shape == (400, 2)
    chosen = decide(s, 0.5 if name != "cosine" else 0.0)
    # landing 0 (the shorter skip) is safe for all of cluster 0 and none of cluster 1
    assert np.mean(chosen[which == 1] >= 0) < 0.05
    assert np.mean(chosen[which == 0] >= 0) > 0.9


def test_never_router_never_skips():
    ex, _ = clusters(50, np.random.default_rng(1))
    s = ROUTERS["never"](ex).scores(Query(ex.keys, ex.prev_cos, ex.exit_entropy))
    assert (decide(s, -1e9) == -1).all()


def test_bank_finds_each_entry_as_its_own_nearest_neighbour():
    ex, _ = clusters(100, np.random.default_rng(2))
    bank = SkipBank(ex)
    bank.check_integrity()
    sims, ids = bank.search(ex.keys, 1)
    assert (ids[:, 0] == np.arange(100)).all() and np.allclose(sims[:, 0], 1, atol=1e-5)


def test_knn_delta_is_the_weighted_neighbour_delta():
    ex, _ = clusters(100, np.random.default_rng(3))
    router = make_router("knn", ex)
    q = Query(ex.keys[:5], ex.prev_cos[:5], ex.exit_entropy[:5])
    d = router.deltas(q, np.array([0, 1, -1, 0, 0]))
    assert np.allclose(d[2], 0)
    assert np.linalg.norm(d[0] - ex.deltas[0, 0]) < np.linalg.norm(ex.deltas[0, 0])


def test_unknown_router_is_a_user_error():
    ex, _ = clusters(10, np.random.default_rng(4))
    with pytest.raises(UserError):
        make_router("oracle", ex)


def test_learned_routers_use_the_context_features():
    """States carry no signal; one context feature (say, the previous token's
    saturation) decides safety: gbt and mlp must find it."""
    rng = np.random.default_rng(4)

    def data(n):
        ex, _ = clusters(n, rng)
        ctx = rng.normal(0, 1, (n, 6)).astype(np.float32)
        ok = ctx[:, 4] > 0
        safe = np.stack([ok, ok & (ctx[:, 4] > 1)], 1)
        keys = rng.normal(0, 1, ex.keys.shape).astype(np.float32)
        return SkipExamples(1, (2, 3), keys, ex.prev_cos, ex.exit_entropy, safe, ex.deltas,
                            ex.group, ctx), ok

    train, _ = data(1500)
    test, ok = data(500)
    for name in ("gbt", "mlp"):
        chosen = decide(make_router(name, train).scores(test.query), 0.5)
        assert np.mean((chosen >= 0) == ok) > 0.9, name


def test_calm_exits_on_a_confident_margin_only():
    rng = np.random.default_rng(5)
    ex, which = clusters(200, rng)
    margin = np.where(which == 0, 0.9, 0.1)
    q = Query(ex.keys, ex.prev_cos, ex.exit_entropy, exit_margin=margin)
    s = make_router("calm", ex).scores(q)
    assert np.isinf(s[:, 0]).all() and (s[:, 0] < 0).all()   # never a short skip
    chosen = decide(s, 0.5)
    assert (chosen[which == 0] == 1).all() and (chosen[which == 1] == -1).all()


@pytest.mark.parametrize("name", ["gbt", "mlp"])
def test_learned_router_with_a_single_landing_scores_one_column(name):
    """The last checkpoint offers only the exit: one landing, one score column."""
    rng = np.random.default_rng(6)
    ex, which = clusters(400, rng)
    one = SkipExamples(1, (3,), ex.keys, ex.prev_cos, ex.exit_entropy, ex.safe[:, :1],
                       ex.deltas[:, :1], ex.group)
    s = make_router(name, one).scores(one.query)
    assert s.shape == (400, 1) and np.mean((s[:, 0] > 0.5) == (which == 0)) > 0.9
