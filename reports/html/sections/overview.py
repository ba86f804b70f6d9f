"""The baseline section, always present: what was swept, how many points
finished or failed, and each failure's one-line reason."""

from __future__ import annotations

import html

from reports.html.sections.base import ReportSection, Section, register_section
from reports.html.tables import html_table


@register_section("overview")
class Overview(ReportSection):
    needs_points = False

    def applies(self, ctx) -> bool:
        return True

    def build(self, ctx) -> Section:
        spec, n, bad = ctx.spec, len(ctx.frame), len(ctx.failed)
        axes = spec.get("axes", {})
        lines = [f"{n} points ({n - bad} finished, {bad} failed) over "
                 + (", ".join(f"<b>{html.escape(a)}</b> ({len(v)})" for a, v in axes.items())
                    or "no axes") + f". Goodput SLO: {html.escape(ctx.slo_text())}."]
        if spec.get("description"):
            lines.insert(0, html.escape(spec["description"]))
        base = ", ".join(f"{k}={v}" for k, v in spec.get("base", {}).items())
        if base:
            lines.append(f"Every point: <code>{html.escape(base)}</code>.")
        if not ctx.ok.empty:
            lines.append(f"Numbers from {html.escape(ctx.provenance(ctx.ok))}.")
        extra = ""
        if bad:
            rows = [[int(r["point_id"]), ", ".join(f"{a}={r[f'axis.{a}']}" for a in ctx.axes),
                     r["error"]] for _, r in ctx.failed.iterrows()]
            extra = "<h3>Failed points</h3>" + html_table(["point", "axes", "error"], rows)
        return Section("Overview", "".join(f"<p>{x}</p>" for x in lines), [], extra)
