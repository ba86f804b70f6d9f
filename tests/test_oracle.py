"""The hindsight oracle keeps every token and takes the deepest safe skip."""

import numpy as np
import pytest
import torch

from policies.checkpoint_plan import CheckpointPlan
from profiler.calibration.oracle import oracle_frontier
from tests.test_counterfactual_batched import tiny_llama

PLAN = CheckpointPlan.parse("2,1,1,1,1", 6)


@pytest.fixture(scope="module")
def recorded():
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.recording import record_greedy

    lm = LayerwiseModel(tiny_llama(seed=3))
    gen = torch.Generator().manual_seed(4)
    prompts = [torch.randint(0, 97, (n,), generator=gen).tolist() for n in (4, 7, 11, 6)]
    with torch.no_grad():
        recs = record_greedy(lm, prompts, 10, keep_logprobs=True)
    return lm, recs


@pytest.mark.parametrize("kv_policy", ["project", "copy", "repair"])
def test_oracle_keeps_the_token_of_every_token_it_skips(recorded, kv_policy):
    """A token that skipped anywhere ends on the path the oracle verified; only
    tokens that ran every block can lose their token (to earlier skips' K/V)."""
    from profiler.calibration.live_eval import LiveSetup, evaluate_live

    lm, recs = recorded
    res = evaluate_live(lm, recs, LiveSetup(PLAN, kv_policy=kv_policy, oracle_max_skip_blocks=2))
    skipped = res.skipped_layers > 0
    assert skipped.any() and res.agree[skipped].all()
    # the first decode step of each prompt sees only the full model's K/V: always kept
    first = np.cumsum([0] + [r.num_decode for r in recs])[:-1]
    assert res.agree[first].all()


def test_oracle_first_decision_is_the_deepest_safe_counterfactual(recorded):
    """At the first decode step every earlier K/V row is the full model's, so the
    oracle's first decision must be the deepest landing the labels call safe."""
    from profiler.calibration.counterfactual import label_prompt
    from profiler.calibration.live_eval import LiveSetup, evaluate_live

    lm, recs = recorded
    res = evaluate_live(lm, recs, LiveSetup(PLAN, oracle_max_skip_blocks=2))
    first = {r[0]: r[3] for r in res.trace if r[1] == 1 and r[2] == 1}
    for b, rec in enumerate(recs):
        lab = label_prompt(lm, rec, PLAN, 2)
        safe = np.flatnonzero(lab.safe[1][0].numpy())
        want = lab.landings[1][safe[-1]] if len(safe) else 1
        assert first[b] == want


def test_oracle_frontier_converts_lost_tokens_then_the_cheapest_kept_ones():
    # 5 tokens of 10 layers; the oracle skipped 6, 4, 0, 0, 0 layers (10 of 50 = 20%)
    # and lost the last token (agreement 0.8)
    skipped, agree = np.array([0, 6, 4, 0, 0]), np.array([1, 1, 1, 1, 0], bool)
    f = oracle_frontier(skipped, agree, 10, 8, [0.1, 0.2, 0.36, 0.4, 0.44, 0.6, 0.9])
    # 0.1: half-way on the line (0, 1) -> (0.2, 0.8); 0.36 needs 8 more layers:
    # the lost token 0 -> 8 is free; 0.4 needs 10: then 6 -> 8 (one kept token);
    # 0.44 needs 12: and 4 -> 8 (two); 0.6 needs 20: and one 0 -> 8 (three)
    assert f[:6] == pytest.approx([0.9, 0.8, 0.8, 0.6, 0.4, 0.2])
    assert np.isnan(f[6])   # 90% is beyond every token exiting at 8 of 10 layers


def test_offline_oracle_walks_the_deepest_safe_landings():
    from policies.routers.base import SkipExamples
    from profiler.calibration.offline_walk import oracle_walk

    plan = CheckpointPlan.parse("2,2,2,2", 8)

    def ex(i, landings, safe):
        safe = np.array(safe, bool)
        n = len(safe)
        return SkipExamples(i, landings, np.zeros((n, 2), np.float32), np.zeros(n), np.zeros(n),
                            safe, np.zeros((n, len(landings), 2), np.float32), np.arange(n))

    # token 0: safe to checkpoint 3 (4 layers), then the exit (2 more);
    # token 1: nothing safe at 1, runs to 2, exits there (4 layers)
    examples = {1: ex(1, (2, 3, 4), [[1, 1, 0], [0, 0, 0]]), 2: ex(2, (3, 4), [[1, 1], [0, 1]]),
                3: ex(3, (4,), [[1], [1]])}
    assert oracle_walk(plan, examples) == (1.0, (6 + 4) / 16)
