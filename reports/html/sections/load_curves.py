"""Latency against load, one curve per series (policy, device, ...): TTFT,
TPOT and end-to-end latency at p50 (solid) and p99 (dashed), against the
offered load (the request rate each point was given) and against the
achieved load (requests/s it served). A curve that bends up is where the
series saturates; where achieved falls behind offered, it is overloaded."""

from __future__ import annotations

import numpy as np

from reports.html.figures import HOVER, colour, finish, log_if_wide
from reports.html.sections.base import ReportSection, Section, register_section

METRICS = (("ttft_s", "TTFT (ms)", 1e3), ("tpot_s", "TPOT (ms)", 1e3),
           ("e2e_s", "E2E latency (s)", 1.0))
X_AXES = (("request_rate_per_s", "offered load (req/s)"),
          ("request_throughput_per_s", "achieved load (req/s)"))


def _finite_load(rows):
    """Points with a finite offered rate (saturation runs have no place on a load axis)."""
    rate = rows["request_rate_per_s"].astype(float)
    return rows[np.isfinite(rate)]


@register_section("load-curves")
class LoadCurves(ReportSection):
    def applies(self, ctx) -> bool:
        # a curve needs two loads within one series (points of different series
        # at their own default rates are not a load axis)
        return any(group["request_rate_per_s"].nunique() > 1
                   for _, group in ctx.series(_finite_load(ctx.ok)))

    def build(self, ctx) -> Section:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        rows = _finite_load(ctx.ok)
        series = ctx.series(rows)
        figures = []
        for x_col, x_title in X_AXES:
            fig = make_subplots(rows=1, cols=3, subplot_titles=[m[1] for m in METRICS],
                                horizontal_spacing=0.07)
            for i, (label, group) in enumerate(series):
                group = group.sort_values("request_rate_per_s")
                hover = [ctx.hover(r) for _, r in group.iterrows()]
                for j, (metric, _, scale) in enumerate(METRICS):
                    for pct, dash in (("p50", "solid"), ("p99", "dash")):
                        fig.add_trace(go.Scatter(
                            x=group[x_col], y=group[f"{metric}.{pct}"] * scale,
                            mode="lines+markers", name=f"{label} {pct}", legendgroup=label,
                            showlegend=j == 0, line={"color": colour(i), "dash": dash},
                            marker={"size": 6}, hovertext=hover, hovertemplate=HOVER),
                            row=1, col=j + 1)
            xtype = log_if_wide(rows[x_col])
            for j, (_, title, _) in enumerate(METRICS):
                fig.update_xaxes(title_text=x_title, type=xtype, row=1, col=j + 1)
                fig.update_yaxes(title_text=title, type="log", row=1, col=j + 1)
            figures.append(finish(fig, f"Latency against {x_title.split(' (')[0]}",
                                  ctx.provenance(rows), height=460))
        intro = ("<p>p50 solid, p99 dashed; latency axes are logarithmic"
                 + (f"; {len(ctx.ok) - len(rows)} saturation point(s) (every request at t = 0) "
                    "are left out" if len(rows) < len(ctx.ok) else "") + ". "
                 "Hover a point for its configuration.</p>")
        return Section("Latency against load", intro, figures)
