"""KV-hole policies as specifications: what each writes into the skipped
layers' cache rows, what it costs in terms of the cost model, and the repair
debt's bookkeeping (policies/kv_hole/)."""

import numpy as np
import pytest

from policies.kv_hole import KV_HOLE_POLICIES, HoleFill, RepairDebt, kv_hole_policy
from profiler.cost_model import BatchShape, CostModel
from skipsim.errors import UserError


class LinearCost(CostModel):
    """Closed forms: projections 1 ms per token-layer; a block 1 µs per
    layer per context token it attends to."""

    name = label = "linear test cost"

    def block_time_s(self, num_layers, batch):
        return 1e-6 * num_layers * batch.decode_context_sum

    def lm_head_time_s(self, num_tokens):
        return 0.0

    def lookup_time_s(self, bank_entries, num_queries):
        return 0.0

    def kv_projection_time_s(self, num_tokens, num_layers):
        return 1e-3 * num_tokens * num_layers

    def skip_action_time_s(self, num_tokens, macs_per_token):
        return 0.0  # identity: no work

    step_overhead_s = 0.0


COST = LinearCost()


def test_the_four_policies_by_name_in_cli_order():
    assert list(KV_HOLE_POLICIES) == ["project", "copy", "repair", "none"]
    assert {n: kv_hole_policy(n).fill for n in KV_HOLE_POLICIES} == {
        "project": HoleFill.PROJECT, "copy": HoleFill.COPY,
        "repair": HoleFill.REPAIR_LATER, "none": HoleFill.MASK}
    with pytest.raises(UserError, match="unknown KV policy"):
        kv_hole_policy("full")


@pytest.mark.parametrize("name", list(KV_HOLE_POLICIES))
def test_the_hole_is_exactly_the_skipped_layers(name):
    plan = kv_hole_policy(name).plan(8, 12)
    assert list(plan.layers) == [8, 9, 10, 11]
    exit_plan = kv_hole_policy(name).plan(26, 30)  # an exit skips the rest
    assert list(exit_plan.layers) == [26, 27, 28, 29]


def test_what_each_policy_does_to_the_rows():
    project, copy, repair, none = (kv_hole_policy(n).plan(8, 12)
                                   for n in ("project", "copy", "repair", "none"))
    assert project.writes_now and not project.masked and project.source_layer is None
    assert copy.writes_now and not copy.masked and copy.source_layer == 7  # the departure layer
    assert not repair.writes_now and repair.masked        # masked until repaired
    assert not none.writes_now and none.masked            # masked for good


def test_copy_needs_a_departure_layer_and_a_skip_covers_a_layer():
    with pytest.raises(ValueError, match="departure"):
        kv_hole_policy("copy").plan(0, 4)
    with pytest.raises(ValueError):
        kv_hole_policy("project").plan(5, 5)


def test_costs_in_the_skipping_step():
    assert kv_hole_policy("project").step_time_s(COST, 3, 4) == pytest.approx(12e-3)
    for name in ("copy", "repair", "none"):
        assert kv_hole_policy(name).step_time_s(COST, 3, 4) == 0.0
    # the fast-path flags agree with the behaviour
    assert [n for n in KV_HOLE_POLICIES if kv_hole_policy(n).costs_in_step] == ["project"]
    assert [n for n in KV_HOLE_POLICIES if kv_hole_policy(n).defers_repair] == ["repair"]


def test_a_repair_batch_costs_a_decode_step_over_the_skipped_layers():
    contexts = (100, 40, 7)
    t = kv_hole_policy("repair").repair_time_s(COST, 4, contexts)
    assert t == pytest.approx(COST.block_time_s(4, BatchShape((), contexts))) == pytest.approx(
        1e-6 * 4 * 147)


def test_repair_debt_settles_by_span_and_drops_dead_requests():
    running = np.array([True, True, True, False])
    admit_seq = np.array([0, 1, 2, 3])
    debt = RepairDebt()
    debt.owe(4, np.array([0, 1]), admit_seq[[0, 1]], positions=np.array([10, 11]))
    debt.owe(2, np.array([2]), admit_seq[[2]], positions=np.array([5]))
    debt.owe(4, np.array([2, 3]), admit_seq[[2, 3]], positions=np.array([6, 9]))
    debt.check_integrity()
    assert debt.tokens == 5
    assert not debt.due(batch_tokens=8, idle=False) and debt.due(8, idle=True)
    assert debt.due(batch_tokens=5, idle=False)
    admit_seq[1] = 7  # request 1 was preempted and re-admitted: its K/V were recomputed
    spans = debt.settle(running, admit_seq)  # request 3 has finished
    assert [s.span for s in spans] == [4, 2]  # in the order first owed
    np.testing.assert_array_equal(spans[0].ids, [0, 2])
    np.testing.assert_array_equal(spans[0].positions, [10, 6])
    np.testing.assert_array_equal(spans[1].ids, [2])
    assert debt.tokens == 0 and not debt.due(1, idle=True)
    debt.check_integrity()
