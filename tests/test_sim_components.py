"""The simulator's parts on their own: roofline closed forms, the memory
split, the paged KV cache, the skip models and the schedulers."""

import numpy as np
import pandas as pd
import pytest

from policies.checkpoint_plan import CheckpointPlan
from policies.memory_split import memory_split, stage_of_blocks
from policies.schedulers import SCHEDULERS, QueueView, StepState, fill_batch, make_scheduler
from profiler.cost_model import BatchShape
from profiler.devices import DEVICES
from profiler.roofline import RooflineCostModel
from simulator.skip_models.parametric import ParametricSkipModel
from simulator.skip_models.replay import ReplaySkipModel
from skipsim.errors import UserError
from skipsim.kv_pages import PagedKVCache
from skipsim.model_spec import model_spec

SPEC = model_spec("llama-3-8b")
PLAN = CheckpointPlan.parse("8,4,4,4,4,2,2,2", 30)


def test_roofline_decode_is_memory_bound_and_prefill_compute_bound():
    rf = RooflineCostModel(SPEC, "h100-sxm")
    dev = DEVICES["h100-sxm"]
    # one decode token, context 1: weights dominate -> bytes / bandwidth
    t = rf.block_time_s(1, BatchShape((), (1,)))
    weights = SPEC.layer_params * SPEC.dtype_bytes
    assert weights / dev.memory_bandwidth_bytes_per_s <= t < 1.01 * (
        weights / dev.memory_bandwidth_bytes_per_s) + 1e-6
    # a 4096-token prefill: 2 FLOPs per parameter per token dominate
    t = rf.block_time_s(1, BatchShape(((4096, 0),), ()))
    assert t >= 2 * SPEC.layer_params * 4096 / dev.peak_for(2)
    assert rf.block_time_s(4, BatchShape((), (1,))) == pytest.approx(
        4 * rf.block_time_s(1, BatchShape((), (1,))))
    assert "analytic roofline: H100" in rf.label
    assert rf.lookup_time_s(10_000, 8) > rf.lookup_time_s(1_000, 8) > dev.lookup_overhead_s


def test_memory_split_and_bank_entries():
    spec = model_spec("smollm2")
    m = memory_split(spec, PLAN, 2**30, 0.07, True, 1, 16, 8)
    entry = spec.hidden_size * 4 + 8
    assert m.bank_entries_per_checkpoint == int(0.07 * 2**30) // 7 // entry
    free = 2**30 - spec.weight_bytes - m.bank_bytes
    assert m.kv_capacity_blocks == free // (spec.kv_bytes_per_token_per_layer * 30) // 16
    on_cpu = memory_split(spec, PLAN, 2**30, 0.07, False, 1, 16, 8)
    assert on_cpu.kv_capacity_blocks > m.kv_capacity_blocks  # host banks free GPU memory
    with pytest.raises(UserError, match="exceed"):
        memory_split(spec, PLAN, spec.weight_bytes, 0.1, True, 1, 16, 8)
    assert stage_of_blocks(PLAN, 2) == [0, 0, 0, 1, 1, 1, 1, 1]


def test_kv_cache_pages_and_integrity():
    kv = PagedKVCache(capacity_blocks=4, block_tokens=16, num_requests=3)
    assert kv.allocate(0, 17, 0.0) and kv.held[0] == 2
    assert kv.allocate(1, 32, 1.0) and kv.free_blocks == 0
    assert not kv.allocate(2, 1, 1.0)
    kv.free(0, 2.0)
    kv.check_integrity()
    assert kv.used == 2 and kv.peak_used == 4
    assert kv.mean_utilisation(4.0) == pytest.approx((2 * 1 + 4 * 1 + 2 * 2) / (4 * 4))


def test_parametric_rates_and_exits():
    model = ParametricSkipModel.from_options(PLAN, {"hit_rates": "0.4", "exit_prob": 0.25,
                                                    "p_change": "0.1"})
    rng = np.random.default_rng(0)
    n = 200_000
    out = model.decide(PLAN, 3, np.arange(n), np.zeros(n, int), rng)
    hit = out.landing > 3
    assert hit.mean() == pytest.approx(0.4, abs=0.005)
    assert (out.landing[hit] == PLAN.num_blocks).mean() == pytest.approx(0.25, abs=0.01)
    assert set(np.unique(out.landing)) == {3, 4, PLAN.num_blocks}
    assert np.all(out.p_change[hit] == 0.1) and np.all(out.p_change[~hit] == 0)


def test_parametric_config_file(tmp_path):
    path = tmp_path / "skip.json"
    path.write_text('{"hit_rates": [0, 0, 0, 0, 0, 0, 1], "skip_blocks": 2, '
                    '"kv_p_change_scale": {"none": 2.0}}')
    model = ParametricSkipModel.from_options(PLAN, {"skip_config": str(path)})
    out = model.decide(PLAN, 7, np.arange(5), np.zeros(5, int), np.random.default_rng(0))
    assert np.all(out.landing == PLAN.num_blocks)  # 7 + 2 > 8 blocks: an exit
    assert model.kv_hole_p_change_scale("none") == 2.0
    path.write_text('{"bogus": 1}')
    with pytest.raises(UserError, match="keys among"):
        ParametricSkipModel.from_options(PLAN, {"skip_config": str(path)})


def test_replay_maps_requests_and_tokens_modulo(tmp_path):
    plan = CheckpointPlan.parse("10,10,10", 30)
    rows = pd.DataFrame({"request_id": [5, 5, 9], "token_index": [0, 2, 0],
                         "at": [1, 2, 1], "landing": [2, 3, 3], "p_change": [0.1, 0.2, 0.3]})
    path = tmp_path / "decisions.csv"
    rows.to_csv(path, index=False)
    model = ReplaySkipModel.from_options(plan, {"skip_config": str(path)})
    # recorded requests sorted: [5, 9]; request 5 has 3 recorded tokens, 9 has 1
    sim_requests = np.array([0, 2, 1, 3, 0])
    tokens = np.array([0, 3, 7, 0, 1])
    out = model.decide(plan, 1, sim_requests, tokens, None)
    # 0->5 t0: hit to 2; 2->5 t3%3=0: hit; 1->9 t7%1=0: exit; 3->9 t0: exit; 0->5 t1: none
    np.testing.assert_array_equal(out.landing, [2, 2, 3, 3, 1])
    np.testing.assert_allclose(out.p_change, [0.1, 0.1, 0.3, 0.3, 0.0])
    bad = rows.assign(landing=[0, 3, 3])
    bad.to_csv(path, index=False)
    with pytest.raises(UserError, match="do not fit plan"):
        ReplaySkipModel.from_options(plan, {"skip_config": str(path)})


def _views(*queues):
    return [QueueView(b, tuple(ids), tuple(tok), arr) for b, ids, tok, arr in queues]


def test_schedulers_choose_by_their_rule():
    views = _views((0, [5, 6], [1, 1], 5.0), (2, [1], [1], 1.0), (3, [3, 4, 7], [1, 1, 1], 3.0))
    state = StepState(0.0, 4, 2, 8, 100)
    chosen = {name: make_scheduler(name).select(views, state).block for name in SCHEDULERS}
    assert chosen == {"fcfs": 2, "deepest-first": 3, "no-skip": 3, "largest-queue": 3,
                      "round-robin": 3}
    assert make_scheduler("round-robin").select(views, state._replace(last_block=3)).block == 0
    assert not make_scheduler("no-skip").uses_router
    assert make_scheduler("fcfs").select([], state) is None


def test_fill_batch_respects_both_budgets():
    q = QueueView(0, (1, 2, 3, 4), (50, 60, 10, 1), 0.0)
    assert fill_batch(q, StepState(0.0, 2, None, 8, 64)) == (1, 3, 4)
    assert fill_batch(q, StepState(0.0, 2, None, 2, 1000)) == (1, 2)
    assert fill_batch(q, StepState(0.0, 2, None, 8, 10)) == (1,)  # the head always goes


def test_kv_page_tables_follow_the_counting_allocator():
    from skipsim.kv_pages import PagedKVTable

    counts, table = PagedKVCache(6, 4, 3), PagedKVTable(6, 4, 3)
    ops = [("allocate", 0, 5), ("allocate", 1, 9), ("grow", [0, 1], [1, 0]),
           ("free", 0), ("allocate", 2, 12), ("allocate", 1, 30)]  # the last does not fit
    for op in ops:
        answers = []
        for kv in (counts, table):
            if op[0] == "allocate":
                answers.append(kv.allocate(op[1], op[2], 1.0))
            elif op[0] == "grow":
                kv.grow_many(op[1], op[2], 1.0)
            else:
                kv.free(op[1], 1.0)
        assert len(set(answers)) <= 1  # the same decisions
        assert counts.held == table.held and counts.used == table.used
        table.check_integrity()
    assert table.pages == [[], [2, 3, 4], [0, 1, 5]]  # request 0's freed pages, lowest first
    assert table.slots(2, [0, 5, 11]) == [0, 1 * 4 + 1, 5 * 4 + 3]
