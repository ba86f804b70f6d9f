"""Validation of the simulator against the real executor: the result of
`simulate validate` (its validation.json), found at `simulate report
--validation PATH`, else in the sweep folder (DIR/validation.json or
DIR/validation/validation.json, validate's default --out under it).

A validate result is shown as its error table: per policy, load, skip mode
and cost model, the simulated and real E2E latency, the signed errors with
the executor's run-to-run noise beside them, and the step-level error. Any
other JSON (a list of rows, `{"rows": [...]}`, one object per name) is shown
row by row, nested values as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from reports.html.sections.base import ReportSection, Section, register_section
from reports.html.tables import html_table
from skipsim.errors import UserError

FILE = "validation.json"
PLACES = (FILE, f"validation/{FILE}")  # under the sweep folder, in this order
ERROR_TABLE = ("policy", "load", "mode", "cost", "E2E mean sim (s)", "E2E mean real (s)",
               "E2E mean err %", "noise %", "E2E p99 err %", "noise %", "TTFT mean err %",
               "TPOT mean err %", "skipped (sim / real)", "step APE p50 / p90 %")


def validation_file(ctx) -> Path | None:
    if ctx.validation is not None:
        path = Path(ctx.validation)
        path = path / FILE if path.is_dir() else path
        if not path.is_file():
            raise UserError(f"--validation {ctx.validation}: no {FILE} there")
        return path
    return next((ctx.sweep_dir / p for p in PLACES if (ctx.sweep_dir / p).is_file()), None)


def validation_rows(data) -> list[dict]:
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if isinstance(data, list):
        return [r if isinstance(r, dict) else {"value": r} for r in data]
    if isinstance(data, dict):
        if all(isinstance(v, dict) for v in data.values()):
            return [{"name": k, **v} for k, v in data.items()]
        return [{"name": k, "value": v} for k, v in data.items()]
    return [{"value": data}]


def is_validate_result(data) -> bool:
    rows = data.get("rows") if isinstance(data, dict) else None
    return bool(rows) and all(isinstance(r, dict) and "request" in r and "noise" in r
                              for r in rows)


def error_table(data: dict) -> str:
    cells = []
    for row in data["rows"]:
        r, n, s = row["request"], row["noise"], row["step"]["all"]
        skipped = r["skipped_fraction"]
        cells.append([row["policy"], row["load"], row["mode"], row.get("cost", "profile"),
                      r["e2e_mean"]["sim"], r["e2e_mean"]["real"], r["e2e_mean"]["err_pct"],
                      n["e2e_mean"], r["e2e_p99"]["err_pct"], n["e2e_p99"],
                      r["ttft_mean"]["err_pct"], r["tpot_mean"]["err_pct"],
                      f"{skipped['sim']:.3f} / {skipped['real']:.3f}",
                      f"{s['median_ape']:.1f} / {s['p90_ape']:.1f}"])
    return html_table(list(ERROR_TABLE), cells)


def _notes(data: dict) -> str:
    goals = data.get("goals") or []
    met = sum(bool(g.get("met")) for g in goals)
    parts = [f"<p>{met} of {len(goals)} goals met (|mean E2E error| &le; 3%, |p99| &le; 8%)."]
    fit = data.get("fit")
    if fit:
        parts.append(f" Rows with cost <code>refit</code>: the cost model refitted on "
                     f"{fit['on']}, scored only on the other loads.")
    return "".join(parts) + "</p>"


@register_section("validation")
class Validation(ReportSection):
    needs_points = False

    def applies(self, ctx) -> bool:
        return validation_file(ctx) is not None

    def build(self, ctx) -> Section:
        path = validation_file(ctx)
        try:
            data = json.loads(path.read_text())
        except ValueError as err:
            raise UserError(f"{path} is not valid JSON: {err}") from None
        intro = f"<p>From <code>{path}</code>.</p>"
        if is_validate_result(data):
            return Section("Validation against the real executor", intro + _notes(data), [],
                           error_table(data))
        rows = validation_rows(data)
        header = list(dict.fromkeys(k for r in rows for k in r))
        cells = [[_cell(r.get(k, "")) for k in header] for r in rows]
        return Section("Validation against the real executor",
                       f"<p>From <code>{path}</code> ({len(rows)} rows).</p>", [],
                       html_table(header, cells))


def _cell(v):
    return json.dumps(v) if isinstance(v, (dict, list)) else v
