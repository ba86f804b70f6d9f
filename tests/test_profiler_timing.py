"""Timing discipline: calibration, warm-up, repeats, inner loops (counted, not timed)."""

import pytest

from profiler.grid import ProfileGrid
from profiler.timing import Clock, Timing, TimingConfig, measure
from skipsim.errors import UserError


class FakeClock(Clock):
    """Every call 'takes' `call_s`; counts the calls it brackets."""

    def __init__(self, call_s):
        super().__init__("cpu")
        self.call_s, self.calls = call_s, 0

    def elapsed_s(self, fn, inner):
        for _ in range(inner):
            fn()
        self.calls += inner
        return self.call_s


def test_calls_are_calibration_plus_warmup_plus_repeats():
    clock = FakeClock(0.01)
    t = measure(lambda: None, clock, TimingConfig(warmup=2, repeats=5, min_repeat_s=0))
    assert clock.calls == 1 + 2 + 5 and (t.repeats, t.inner) == (5, 1)
    assert t.median_s == 0.01 and t.spread == 0.0


def test_short_ops_are_looped_until_a_repeat_lasts_min_repeat_s():
    clock = FakeClock(1e-5)
    t = measure(lambda: None, clock, TimingConfig(warmup=1, repeats=3, min_repeat_s=1e-3))
    assert t.inner == 100 and clock.calls == 1 + 100 * (1 + 3)


def test_with_a_before_call_every_call_is_timed_alone_after_it():
    """before() (e.g. evicting the caches) runs untimed ahead of every call,
    and no inner loop lets a short op time itself warm."""
    clock, order = FakeClock(1e-5), []
    t = measure(lambda: order.append("op"), clock,
                TimingConfig(warmup=1, repeats=3, min_repeat_s=1e-3),
                before=lambda: order.append("before"))
    assert t.inner == 1 and t.repeats == 3 and clock.calls == 1 + 1 + 3
    assert order == ["before", "op"] * 5


def test_long_ops_get_fewer_repeats_but_never_under_three():
    clock = FakeClock(10.0)
    t = measure(lambda: None, clock, TimingConfig(warmup=2, repeats=7, max_point_s=20.0))
    assert t.repeats == 3 and clock.calls == 1 + 3


def test_spread_and_per_layer_scaling():
    t = Timing.from_samples([1.0, 2.0, 3.0, 4.0, 5.0], inner=1)
    assert t.median_s == 3.0 and t.spread == pytest.approx((4.6 - 1.4) / 3.0)
    assert t.scaled(0.25).median_s == 0.75


def test_configs_only_validate():
    with pytest.raises(UserError):
        TimingConfig(repeats=0)
    with pytest.raises(UserError):
        ProfileGrid.quick().__class__(**{**ProfileGrid.quick().__dict__, "bank_sizes": ()})


def test_decode_points_respect_the_kv_cap():
    grid = ProfileGrid.full()
    assert all(b * c <= grid.max_decode_kv_tokens for b, c in grid.decode_points())
    assert (256, 4096) not in grid.decode_points() and (1, 4096) in grid.decode_points()
    assert grid.bank_sizes_for("hnsw")[-1] == 100_000 and grid.bank_sizes_for("flat")[-1] == 300_000
    # small live banks are measured, not extrapolated; IVF-PQ cannot train below 1k
    assert grid.bank_sizes_for("flat")[0] == 100 and grid.bank_sizes_for("ivfpq")[0] == 1_000
