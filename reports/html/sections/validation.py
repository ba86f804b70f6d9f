"""Validation of the simulator against the real executor, when the sweep
folder holds `validation.json` (written by `simulate validate`): its rows
as a table, whatever their columns (a list of objects, `{"rows": [...]}`,
or one object per name)."""

from __future__ import annotations

import json

from reports.html.sections.base import ReportSection, Section, register_section
from reports.html.tables import html_table
from skipsim.errors import UserError

FILE = "validation.json"


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


@register_section("validation")
class Validation(ReportSection):
    needs_points = False

    def applies(self, ctx) -> bool:
        return (ctx.sweep_dir / FILE).exists()

    def build(self, ctx) -> Section:
        path = ctx.sweep_dir / FILE
        try:
            rows = validation_rows(json.loads(path.read_text()))
        except ValueError as err:
            raise UserError(f"{path} is not valid JSON: {err}") from None
        header = list(dict.fromkeys(k for r in rows for k in r))
        cells = [[_cell(r.get(k, "")) for k in header] for r in rows]
        return Section("Validation against the real executor",
                       f"<p>From <code>{FILE}</code> ({len(rows)} rows).</p>", [],
                       html_table(header, cells))


def _cell(v):
    return json.dumps(v) if isinstance(v, (dict, list)) else v
