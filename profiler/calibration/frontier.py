"""Routers against the static baseline at equal skipped fraction.

The static Block Influence baseline is measured at a few layer counts; its
agreement at any skipped fraction in between is read off the straight line
between neighbouring measurements, with (0 skipped, agreement 1) as the first
point: teacher-forced decoding with nothing skipped is the full model. The
line is what a randomised static policy reaches (skip the next count's
layers for a random share of tokens), so a router must beat that mixture,
not just the measured points. Beyond
the largest measured count the baseline is unknown and no margin is given
(extrapolating it would flatter or damn the router at will).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrontierPoint:
    router: str
    target: float
    agreement: float
    skipped_fraction: float
    static_agreement: float | None   # the baseline's agreement at the same skipped fraction

    @property
    def margin(self) -> float | None:
        """Agreement points the router keeps over the baseline (positive = above it)."""
        return None if self.static_agreement is None else self.agreement - self.static_agreement


def static_agreement_at(static_rows: list[dict], skipped_fraction: float) -> float | None:
    pts = sorted((r["skipped_fraction"], r["agreement"]) for r in static_rows)
    xs = np.array([0.0] + [x for x, _ in pts])
    ys = np.array([1.0] + [y for _, y in pts])
    if skipped_fraction > xs[-1] + 1e-12:
        return None
    return float(np.interp(skipped_fraction, xs, ys))


def frontier(comparison: list[dict], static_rows: list[dict],
             kv_policy: str) -> list[FrontierPoint]:
    """One point per (router, target) evaluated with `kv_policy`, by router then skipped
    fraction."""
    rows = [r for r in comparison if r["kv_policy"] == kv_policy and r.get("target") is not None]
    points = [FrontierPoint(label(r), r["target"], r["agreement"], r["skipped_fraction"],
                            static_agreement_at(static_rows, r["skipped_fraction"]))
              for r in rows]
    return sorted(points, key=lambda p: (p.router, p.skipped_fraction))


def label(row: dict) -> str:
    """The router's name, with how its thresholds were calibrated when recorded."""
    return f"{row['router']}/{row['calibration']}" if row.get("calibration") else row["router"]


def summary(points: list[FrontierPoint]) -> dict[str, tuple[int, int]]:
    """router -> (points above the baseline, points where the baseline was measured)."""
    out: dict[str, tuple[int, int]] = {}
    for p in points:
        above, measured = out.get(p.router, (0, 0))
        if p.margin is not None:
            out[p.router] = (above + (p.margin > 0), measured + 1)
        else:
            out[p.router] = (above, measured)
    return out
