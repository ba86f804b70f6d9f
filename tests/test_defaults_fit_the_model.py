"""Defaults fit the model they are used with: the checkpoint plan scales to its
depth, SmolLM2's skip figures transfer by relative depth (and say so), empty
banks cost nothing and skip nothing, every plan splits into as many pipeline
stages as it has blocks, and the default SkipProfile's routers can fire."""

import itertools
import json

import numpy as np
import pytest

from policies.checkpoint_plan import CheckpointPlan
from policies.memory_split import stage_of_blocks
from profiler.calibration.skip_profile import SkipProfile
from simulator.default_rate import Probe
from simulator.skip_models.measured import DEFAULT_PROFILE, MeasuredSkipModel, map_landing
from skipsim.cli import main

DEFAULT = CheckpointPlan.parse("8,4,4,4,4,2,2,2", 30)
QUICK = DEFAULT_PROFILE.parent / "smollm2-quick.json"


def _run(tmp_path, capsys, argv):
    code = main(["run", *argv, "--no-progress", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, json.loads((tmp_path / "out" / "summary.json").read_text())["skipsim"]


@pytest.mark.parametrize("layers", [4, 28, 30, 32, 80])
def test_the_default_plan_scales_to_any_depth(layers):
    plan = DEFAULT.scaled(layers)
    assert plan.num_layers == layers
    if layers >= 30:  # deep enough: every checkpoint survives, at the same relative depth
        assert plan.num_blocks == DEFAULT.num_blocks
        for b, b0 in zip(plan.boundaries, DEFAULT.boundaries):
            assert abs(b / layers - b0 / 30) <= 0.5 / layers
    assert DEFAULT.scaled(30) == DEFAULT


def test_llama_on_h100_runs_with_the_scaled_plan_and_says_the_skips_are_transferred(
        tmp_path, capsys):
    out, summary = _run(tmp_path, capsys, ["--model", "llama-3-8b", "--device", "h100-sxm",
                                           "--trace", "fixed", "--num-prompts", "20",
                                           "--request-rate", "5"])
    assert summary["labels"]["checkpoints"] == "9,4,4,4,5,2,2,2"
    assert "scaled by relative depth to the model's 32 layers" in out
    assert "transferred by relative depth to 32 layers" in out


def test_transfer_by_relative_depth_reads_the_profile_at_the_same_depth():
    model = MeasuredSkipModel()
    p = model.profile
    deep = DEFAULT.scaled(80)  # boundaries 0,21,32,43,53,64,69,75,80
    n = 200_000
    for at in deep.router_checkpoints:
        cp = p.checkpoint_at_layer(round(deep.boundaries[at] * p.num_layers / 80))
        stats = cp.by_target[model.target]
        # a landing with no plan checkpoint before it at that depth runs on (skips no further)
        lands = [map_landing(deep, at, layer, p.num_layers) for layer in cp.landing_layers]
        want = stats.hit_prob * sum(q for q, c in zip(stats.landing_probs, lands) if c > at)
        out = model.decide(deep, at, np.arange(n), np.zeros(n, int), np.random.default_rng(at))
        hit = (out.landing != at).mean()
        assert abs(hit - want) < 5 * np.sqrt(want / n) + 1e-9
        assert np.all(out.landing >= at) and np.all(out.landing <= deep.num_blocks)
    assert model.notes(DEFAULT) == [n for n in model.notes(DEFAULT) if "transferred" not in n]
    assert any("transferred by relative depth" in n for n in model.notes(deep))


def test_the_default_profile_is_the_best_measured_and_its_routers_fire():
    default, quick = SkipProfile.load(DEFAULT_PROFILE), SkipProfile.load(QUICK)
    tokens = lambda p: sum(c.by_target[str(p.target_agreement)].tokens  # noqa: E731
                           for c in p.checkpoints)
    assert tokens(default) > tokens(quick)
    fires = [c.layer for c in default.checkpoints
             if c.by_target[str(default.target_agreement)].hit_prob > 0]
    assert set(fires) & set(DEFAULT.boundaries[1:-1])  # some default-plan router can hit
    notes = MeasuredSkipModel(QUICK).notes(DEFAULT)
    assert notes == ["routers never fire at target 0.99 in this profile: lookups are pure cost"]
    partly = MeasuredSkipModel().notes(DEFAULT)
    assert len(partly) == 1 and "never fire" in partly[0] and "of 7" in partly[0]
    silent = [c.layer for c in SkipProfile.load(DEFAULT_PROFILE).checkpoints
              if c.layer in DEFAULT.boundaries and c.by_target["0.99"].hit_prob == 0]
    assert partly[0].startswith(f"routers at layers {', '.join(map(str, silent))} ")


def test_parametric_routers_with_hit_rate_zero_are_named():
    from simulator.skip_models.parametric import ParametricSkipModel

    plan = CheckpointPlan.parse("10,10,6,4", 30)
    model = ParametricSkipModel.from_options(plan, {"hit_rates": "0,0.2,0"})
    assert model.notes(plan) == ["routers at layers 10, 26 (2 of 3) never fire (hit rate 0): "
                                 "their lookups are pure cost"]
    assert ParametricSkipModel.from_options(plan, {"hit_rates": "0.1"}).notes(plan) == []


def test_empty_banks_make_no_lookups_and_no_skips(tmp_path, capsys):
    out, summary = _run(tmp_path, capsys, ["--trace", "fixed", "--num-prompts", "10",
                                           "--prompt-tokens", "32", "--output-tokens", "8",
                                           "--request-rate", "inf", "--bank-fraction", "0",
                                           "--skip-rates", "0.3"])
    assert summary["lookups_per_decode_token"] == 0 and summary["skipped_layer_fraction"] == 0
    assert summary["lookup_busy_s"] == 0 and summary["expected_agreement"] == 1.0
    assert "routers off: --bank-fraction 0 leaves the banks empty" in out


def test_as_many_gpus_as_blocks_gives_one_block_per_stage(tmp_path, capsys):
    assert stage_of_blocks(DEFAULT, 8) == list(range(8))
    _, summary = _run(tmp_path, capsys, ["--trace", "fixed", "--num-prompts", "4",
                                         "--prompt-tokens", "32", "--output-tokens", "4",
                                         "--request-rate", "inf", "--num-gpus", "8"])
    assert summary["completed"] == 4


@pytest.mark.parametrize("seed", range(20))
def test_stages_are_contiguous_and_as_balanced_as_brute_force(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, size=int(rng.integers(1, 9))).tolist()
    plan = CheckpointPlan.from_block_sizes(sizes)
    for gpus in range(1, len(sizes) + 1):
        stages = stage_of_blocks(plan, gpus)
        assert stages == sorted(stages) and set(stages) == set(range(gpus))
        load = max(sum(s for s, g in zip(sizes, stages) if g == i) for i in range(gpus))
        best = min(max(sum(sizes[a:b]) for a, b in zip((0, *cuts), (*cuts, len(sizes))))
                   for cuts in itertools.combinations(range(1, len(sizes)), gpus - 1))
        assert load == best


def test_a_grown_queue_is_never_called_stable():
    assert "level" in str(Probe(1.0, 16, 10)) and "stable" not in str(Probe(1.0, 16, 10))
    grew = str(Probe(0.125, 10, 16))  # within the noise allowance, but it grew
    assert "grew 10->16" in grew and "stable" not in grew
    assert "growing" in str(Probe(1.0, 10, 40))
