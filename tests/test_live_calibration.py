"""Live threshold calibration picks levels by the conformal bound, in a fixed sequence."""

from policies.routers.threshold import NEVER
from profiler.calibration.live_calibration import LevelRun, pick_thresholds


def run(p, wrong, tokens=999):
    return LevelRun(p, {1: p, 2: p + 1}, wrong, tokens, 0.01)


def test_bound_is_the_conformal_one():
    # (wrong + 1) / (tokens + 1) <= 1 - target
    assert run(1.0, 9).meets(0.99) and not run(1.0, 10).meets(0.99)


def test_a_target_takes_the_last_level_before_the_first_failure():
    runs = [run(1.0, 0), run(0.99, 5), run(0.95, 60), run(0.9, 3)]
    ths, chosen = pick_thresholds(runs, 0.99)
    assert chosen.precision == 0.99 and ths == {1: 0.99, 2: 1.99}
    # 0.95 fails at the 60-error level; the later 3-error level is never taken
    assert pick_thresholds(runs, 0.95)[1].precision == 0.99
    assert pick_thresholds(runs, 0.9)[1].precision == 0.9


def test_a_target_no_level_meets_never_skips():
    ths, chosen = pick_thresholds([run(1.0, 50)], 0.99)
    assert chosen is None and ths == {1: NEVER, 2: NEVER}
