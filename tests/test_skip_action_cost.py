"""Skip actions are priced by the cost model and charged by the simulator per hit."""

import numpy as np
import pytest

from policies.actions.base import skip_action
from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import kv_hole_policy
from profiler.devices import DEVICES
from profiler.roofline import RooflineCostModel
from simulator.router_step import RouterStep
from simulator.skip_models.parametric import ParametricSkipModel
from skipsim.errors import UserError
from skipsim.model_spec import model_spec
from tests.sim_helpers import ServiceCost


def test_roofline_prices_a_shortcut_as_a_d_by_d_product():
    spec = model_spec("smollm2")
    rf = RooflineCostModel(spec, "h100-sxm")
    dev = DEVICES["h100-sxm"]
    macs = skip_action("shortcut").macs_per_token(spec.hidden_size)
    assert macs == 576 * 576
    # one token: reading the map's weights dominates
    assert rf.skip_action_time_s(1, macs) == pytest.approx(
        (macs + 2 * 576) * spec.dtype_bytes / dev.memory_bandwidth_bytes_per_s)
    # a huge batch: 2 flops per multiply-add at peak
    n = 1 << 20
    assert rf.skip_action_time_s(n, macs) == pytest.approx(
        2.0 * macs * n / dev.peak_for(spec.dtype_bytes))
    assert rf.skip_action_time_s(0, macs) == rf.skip_action_time_s(8, 0) == 0.0


def test_measured_price_scales_the_measured_kv_projection_by_multiply_adds():
    from profiler.fitted import MeasuredCostModel

    spec = model_spec("smollm2")
    cm = MeasuredCostModel(spec=spec, device="cpu")
    kv_macs = 2 * spec.hidden_size * spec.num_kv_heads * spec.head_dim
    assert cm.skip_action_time_s(16, kv_macs) == pytest.approx(cm.kv_projection_time_s(16, 1))
    assert cm.skip_action_time_s(16, 2 * kv_macs) == pytest.approx(
        2 * cm.kv_projection_time_s(16, 1))


def test_router_charges_the_action_once_per_hit():
    plan = CheckpointPlan.parse("8,4,4,4,4,6", 30)
    skip = ParametricSkipModel.from_options(plan, {"hit_rates": "1", "exit_prob": 1.0,
                                                   "p_change": "0"})
    charged = []
    router = RouterStep(plan, skip, kv_hole_policy("copy"), lambda e, q: 0.0,
                        ServiceCost(0.0, False), 100, np.random.default_rng(0),
                        action_time_s=lambda n: charged.append(n) or 1e-3 * n)
    r = router.route(1, np.arange(5), np.arange(5), np.zeros(5, int))
    assert r.exited == 5 and charged == [5] and r.kv_time_s == pytest.approx(5e-3)


def test_unknown_action_is_a_user_error():
    with pytest.raises(UserError):
        skip_action("teleport")


def test_the_calibration_cli_lists_every_registered_action():
    """`profiler/calibration/config.py` names the actions without importing
    numpy; the names must be the registry's."""
    from policies.actions import SKIP_ACTIONS
    from profiler.calibration.config import ACTIONS

    assert set(ACTIONS) == set(SKIP_ACTIONS)
