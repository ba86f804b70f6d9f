"""What every report section reads: the sweep's table (finished points),
its spec, and helpers for the questions sections share: which axes vary,
which series a figure draws, where its numbers come from (cost model and
skip model labels) and what hovering a point shows."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

LOAD_AXES = ("request-rate", "rate-fraction", "request_rate", "rate_fraction")


@dataclass
class ReportContext:
    sweep_dir: Path
    frame: object  # pandas DataFrame: every row of the table
    spec: dict  # spec.json: title, description, base, axes, slo_ms, report
    validation: Path | None = None  # a validation.json given beside the sweep (`--validation`)

    @property
    def ok(self):
        """The points that finished without error."""
        return self.frame[self.frame["error"].fillna("") == ""]

    @property
    def failed(self):
        return self.frame[self.frame["error"].fillna("") != ""]

    @property
    def axes(self) -> list[str]:
        return [c[len("axis."):] for c in self.frame.columns if c.startswith("axis.")]

    def varies(self, column: str, rows=None) -> bool:
        rows = self.ok if rows is None else rows
        return column in rows and rows[column].astype(str).nunique() > 1

    def series_axes(self, exclude=(), include_load: bool = False) -> list[str]:
        """Axes that vary, other than `exclude` (and the load unless
        `include_load`): one series each combination."""
        skip = set(exclude) | (set() if include_load else set(LOAD_AXES))
        return [a for a in self.axes if a not in skip and self.varies(f"axis.{a}")]

    def series(self, rows, exclude=(), include_load: bool = False) -> list[tuple[str, object]]:
        """(label, rows) per combination of the varying axes (see series_axes)."""
        axes = self.series_axes(exclude, include_load)
        if not axes:
            return [("all points", rows)]
        cols = [f"axis.{a}" for a in axes]
        out = []
        for values, group in rows.groupby(cols, sort=False):
            values = values if isinstance(values, tuple) else (values,)
            out.append((", ".join(f"{a}={v}" for a, v in zip(axes, values)), group))
        return out

    def provenance(self, rows) -> str:
        """Which cost and skip models produced these numbers."""
        def uniq(col):
            return sorted({str(v) for v in rows[col].dropna()}) if col in rows else ["?"]
        return (f"cost model: {'; '.join(uniq('label.cost_model'))} | "
                f"skip model: {'; '.join(uniq('label.skip_model'))}")

    def hover(self, row) -> str:
        """A point's configuration, for its tooltip."""
        parts = [f"point {int(row['point_id'])}"]
        parts += [f"{a}: {row[f'axis.{a}']}" for a in self.axes]
        rate = row.get("request_rate_per_s")
        if rate is not None and rate == rate:
            parts.append(f"offered: {rate:.3g} req/s")
        options = json.loads(row["options"])
        shown = {k: v for k, v in options.items() if k not in self.axes and k != "goodput"}
        parts += [f"{k}: {v}" for k, v in list(shown.items())[:8]]
        parts.append(f"cost: {row.get('label.cost_model', '?')}")
        parts.append(f"skip: {row.get('label.skip_model', '?')}")
        return "<br>".join(html.escape(str(p)) for p in parts)

    @property
    def slo_ms(self) -> dict:
        return self.spec.get("slo_ms") or {}

    def slo_text(self) -> str:
        slo = self.slo_ms
        if not slo:
            return "no SLO in the spec"
        return ", ".join(f"{k.upper()} ≤ {v:g} ms" for k, v in slo.items())
