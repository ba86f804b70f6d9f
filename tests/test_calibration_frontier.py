"""Routers are compared with the static baseline at equal skipped fraction."""

import pytest

from profiler.calibration.frontier import frontier, static_agreement_at, summary

STATIC = [{"skipped_fraction": 0.1, "agreement": 0.8}, {"skipped_fraction": 0.2, "agreement": 0.6}]


def test_static_line_starts_at_the_full_model_and_joins_measurements():
    assert static_agreement_at(STATIC, 0.0) == 1.0
    # half-way to the 1-layer point
    assert static_agreement_at(STATIC, 0.05) == pytest.approx(0.9)
    assert static_agreement_at(STATIC, 0.15) == pytest.approx(0.7)
    assert static_agreement_at(STATIC, 0.2) == pytest.approx(0.6)


def test_no_margin_beyond_the_largest_static_measurement():
    assert static_agreement_at(STATIC, 0.25) is None
    [p] = frontier([{"router": "knn", "target": 0.5, "kv_policy": "project",
                     "agreement": 0.5, "skipped_fraction": 0.3}], STATIC, "project")
    assert p.margin is None and summary([p]) == {"knn": (0, 0)}


def test_points_of_other_kv_policies_are_left_out_and_margins_signed():
    rows = [{"router": "knn", "target": 0.9, "kv_policy": "project", "agreement": 0.95,
             "skipped_fraction": 0.05},
            {"router": "knn", "target": 0.99, "kv_policy": "project", "agreement": 0.97,
             "skipped_fraction": 0.01},
            {"router": "knn", "target": 0.99, "kv_policy": "copy", "agreement": 0.5,
             "skipped_fraction": 0.01}]
    pts = frontier(rows, STATIC, "project")
    assert [p.skipped_fraction for p in pts] == [0.01, 0.05]
    assert pts[0].margin == pytest.approx(0.97 - 0.98) and pts[1].margin == pytest.approx(0.05)
    assert summary(pts) == {"knn": (1, 2)}


def test_frontier_table_reads_the_upper_envelope_of_the_points():
    from profiler.calibration.study import frontier_at

    pts = [{"skipped_fraction": 0.1, "agreement": 0.8},
           {"skipped_fraction": 0.2, "agreement": 0.75},
           {"skipped_fraction": 0.3, "agreement": 0.4}]
    # the chord (0, 1) -> (0.2, 0.75) passes above (0.1, 0.8): mixing beats the point
    assert frontier_at(pts, 0.05) == pytest.approx(1 - 0.05 * 1.25)
    assert frontier_at(pts, 0.2) == pytest.approx(0.75)
    # (0.1, 0.8) -> (0.3, 0.4) gives 0.6 at 0.2: the envelope keeps the higher 0.75
    assert frontier_at(pts, 0.25) == pytest.approx(0.575)    # chord (0.2, 0.75) -> (0.3, 0.4)
    assert frontier_at(pts, 0.31) is None
