"""Checkpoint plans compared: for each plan (the checkpoints of the point,
named by its axis label when it has one), output throughput, TPOT p99 and
expected agreement, bars grouped by the other varying axes (e.g. the load)."""

from __future__ import annotations

from html import escape

from reports.html.figures import colour, finish
from reports.html.sections.base import ReportSection, Section, register_section

PANELS = (("output_throughput_tok_per_s", "output throughput (tok/s)", 1.0),
          ("tpot_s.p99", "TPOT p99 (ms)", 1e3),
          ("expected_agreement", "expected agreement (fraction)", 1.0))
PLAN_AXES = ("checkpoints", "plan")


def _plan_axis(ctx) -> str | None:
    """The axis naming the plans (`checkpoints`, `plan`), if the spec has one."""
    return next((a for a in ctx.axes if a in PLAN_AXES and ctx.varies(f"axis.{a}")), None)


@register_section("plans")
class Plans(ReportSection):
    def applies(self, ctx) -> bool:
        return ctx.varies("cfg.checkpoints")

    def build(self, ctx) -> Section:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        rows = ctx.ok.copy()
        axis = _plan_axis(ctx)
        rows["_plan"] = rows[f"axis.{axis}"] if axis else rows["cfg.checkpoints"]
        fig = make_subplots(rows=1, cols=3, subplot_titles=[p[1] for p in PANELS],
                            horizontal_spacing=0.08)
        exclude = [axis] if axis else list(ctx.axes)
        for i, (label, group) in enumerate(ctx.series(rows, exclude=exclude, include_load=True)):
            hover = [ctx.hover(r) + f"<br>checkpoints: {r['cfg.checkpoints']}"
                     for _, r in group.iterrows()]
            for j, (col, _, scale) in enumerate(PANELS):
                fig.add_trace(go.Bar(
                    x=group["_plan"], y=group[col] * scale, name=label, legendgroup=label,
                    showlegend=j == 0, marker={"color": colour(i)}, hovertext=hover,
                    hovertemplate="%{hovertext}<br><b>%{y:.4g}</b><extra></extra>"),
                    row=1, col=j + 1)
        for j, (_, title, _) in enumerate(PANELS):
            fig.update_xaxes(title_text="checkpoint plan", type="category", row=1, col=j + 1)
            fig.update_yaxes(title_text=title, type="log" if "TPOT" in title else "linear",
                             row=1, col=j + 1)
        fig.update_layout(barmode="group")
        table = "".join(f"<li><b>{escape(str(p))}</b>: checkpoints <code>{escape(c)}</code></li>"
                        for p, c in rows[["_plan", "cfg.checkpoints"]]
                        .drop_duplicates().itertuples(index=False))
        return Section("Checkpoint plans", f"<ul>{table}</ul>",
                       [finish(fig, "Plans compared", ctx.provenance(rows), height=460)])
