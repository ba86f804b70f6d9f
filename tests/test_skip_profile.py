"""SkipProfile round-trips; the `measured` skip model reproduces its figures over a long run."""

import json

import numpy as np
import pytest

from policies.checkpoint_plan import CheckpointPlan
from profiler.calibration.skip_profile import CheckpointProfile, CheckpointStats, SkipProfile
from simulator.skip_models.measured import DEFAULT_PROFILE, MeasuredSkipModel, map_landing
from skipsim.errors import UserError

PLAN = CheckpointPlan((0, 8, 10, 12, 30))


def make_profile() -> SkipProfile:
    def cp(index, layer, landings, hit, err, probs):
        layers = [PLAN.boundaries[j] if j < PLAN.num_blocks else 30 for j in landings]
        stats = {"0.99": CheckpointStats(hit, err, probs, 0.9, 1000),
                 "0.9": CheckpointStats(min(1, 2 * hit), 2 * err, probs, 0.5, 1000)}
        return CheckpointProfile(index, layer, landings, layers, stats)
    return SkipProfile("smollm2", 30, list(PLAN.boundaries), "knn", "project", "identity", 0.99,
                       [cp(1, 8, [2, 3, 4], 0.3, 0.02, [0.5, 0.3, 0.2]),
                        cp(2, 10, [3, 4], 0.1, 0.05, [0.9, 0.1]),
                        cp(3, 12, [4], 0.0, 0.0, [0.0])],
                       config={"seed": 0})


def test_profile_round_trips(tmp_path):
    p = make_profile()
    assert SkipProfile.load(p.save(tmp_path / "p.json")) == p


def test_malformed_or_missing_profile_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "something else"}))
    for path in (bad, tmp_path / "missing.json"):
        with pytest.raises(UserError):
            SkipProfile.load(path)


@pytest.mark.parametrize("at", [1, 2, 3])
def test_measured_model_reproduces_hit_rates_and_landings(at):
    profile = make_profile()
    model = MeasuredSkipModel(profile)
    stats = profile.checkpoints[at - 1].by_target["0.99"]
    n = 200_000
    out = model.decide(PLAN, at, np.arange(n), np.zeros(n, int), np.random.default_rng(at))
    hit = out.landing != at
    sigma = np.sqrt(stats.hit_prob * (1 - stats.hit_prob) / n)
    assert abs(hit.mean() - stats.hit_prob) <= 5 * sigma + 1e-12
    if hit.any():
        lands = profile.checkpoints[at - 1].landings
        freq = [np.mean(out.landing[hit] == j) for j in lands]
        assert np.allclose(freq, stats.landing_probs, atol=0.01)
    assert np.all(out.p_change[hit] == stats.error_prob) and np.all(out.p_change[~hit] == 0)


def test_target_selects_the_other_figures_and_unknown_target_is_an_error():
    model = MeasuredSkipModel(make_profile(), target=0.9)
    out = model.decide(PLAN, 1, np.arange(100_000), np.zeros(100_000, int),
                       np.random.default_rng(0))
    assert abs((out.landing != 1).mean() - 0.6) < 0.01
    with pytest.raises(UserError):
        MeasuredSkipModel(make_profile(), target=0.5)


def test_landings_map_onto_a_coarser_plan_without_skipping_further():
    coarse = CheckpointPlan((0, 8, 12, 30))
    assert map_landing(coarse, 1, 10, 30) == 1   # layer 10 is inside block 1: run on
    assert map_landing(coarse, 1, 12, 30) == 2
    assert map_landing(coarse, 1, 30, 30) == 3   # exit stays exit


def test_the_committed_profile_reproduces_its_figures_on_its_own_plan():
    """Every measured checkpoint of the committed profile stands on one of its
    boundaries (else it could never fire) and skips there, forward only, at its
    hit probability."""
    model = MeasuredSkipModel(DEFAULT_PROFILE)
    profile = model.profile
    plan = CheckpointPlan(tuple(profile.boundaries))
    n = 100_000
    for cp in profile.checkpoints:
        at = profile.boundaries.index(cp.layer)
        p = cp.by_target[model.target].hit_prob
        out = model.decide(plan, at, np.arange(n), np.zeros(n, int), np.random.default_rng(at))
        assert np.all(out.landing >= at)
        assert abs((out.landing != at).mean() - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12, cp.layer


def test_kv_hole_factors_are_read_from_the_profiles_live_runs():
    from dataclasses import replace

    rows = [{"router": "knn", "target": 0.99, "kv_policy": k, "agreement": a}
            for k, a in (("project", 0.95), ("copy", 0.88), ("repair", 0.96))]
    rows.append({"router": "cosine", "target": 0.99, "kv_policy": "copy", "agreement": 0.1})
    model = MeasuredSkipModel(replace(make_profile(), live={"comparison": rows}))
    assert model.kv_hole_p_change_scale("copy") == pytest.approx(0.12 / 0.04)
    assert model.kv_hole_p_change_scale("project") == pytest.approx(0.05 / 0.04)
    assert model.kv_hole_p_change_scale("repair") == pytest.approx(1.0)
    assert model.kv_hole_p_change_scale("none") == 1.25          # not measured: the fallback
    unmeasured = MeasuredSkipModel(make_profile())
    assert unmeasured.kv_hole_p_change_scale("copy") == 1.1


def test_profiles_written_with_the_old_name_full_read_as_repair(tmp_path):
    from dataclasses import replace

    from policies.kv_hole import KV_HOLE_POLICIES

    rows = [{"router": "knn", "target": 0.99, "kv_policy": k, "agreement": a}
            for k, a in (("project", 0.95), ("full", 0.96))]
    path = replace(make_profile(), live={"comparison": rows}).save(tmp_path / "old.json")
    assert '"full"' in path.read_text()  # as calibration wrote it before the rename
    profile = SkipProfile.load(path)
    assert {r["kv_policy"] for r in profile.live["comparison"]} == {"project", "repair"}
    assert {r["kv_policy"] for r in profile.live["comparison"]} <= set(KV_HOLE_POLICIES)
    assert MeasuredSkipModel(profile).kv_hole_p_change_scale("project") == pytest.approx(
        0.05 / 0.04)
