"""The KV-cache-versus-bank memory split: goodput (requests/s meeting every
SLO of the spec) over the bank's share of GPU memory against a second
varying quantity (GPU memory, or the load) as a heatmap; a line per series
when only the split varies. More bank raises the hit rate; more KV cache
raises the batch size; the bright cell is the split to pick."""

from __future__ import annotations

import numpy as np

from reports.html.figures import colour, finish
from reports.html.sections.base import ReportSection, Section, register_section

SECOND = (("cfg.gpu_memory_bytes", "GPU memory (GiB)", 2.0**-30),
          ("request_rate_per_s", "offered load (req/s)", 1.0))


TITLES = {"goodput_per_s": "goodput (req/s within SLO)",
          "request_throughput_per_s": "throughput (req/s)"}


def goodput_column(rows) -> tuple[str, str]:
    if "goodput_per_s" in rows and rows["goodput_per_s"].notna().any():
        return "goodput_per_s", TITLES["goodput_per_s"]
    return "request_throughput_per_s", "throughput (req/s; no SLO in the spec)"


@register_section("memory-split")
class MemorySplit(ReportSection):
    def applies(self, ctx) -> bool:
        return ctx.varies("cfg.bank_fraction")

    def build(self, ctx) -> Section:
        import plotly.graph_objects as go

        rows = ctx.ok
        metric, metric_title = goodput_column(rows)
        second = next(((c, t, s) for c, t, s in SECOND if ctx.varies(c)), None)
        if second is None:
            fig = go.Figure()
            for i, (label, group) in enumerate(ctx.series(rows,
                                                          exclude=("bank-fraction",
                                                                   "bank_fraction"),
                                                          include_load=True)):
                group = group.sort_values("cfg.bank_fraction")
                fig.add_trace(go.Scatter(
                    x=group["cfg.bank_fraction"], y=group[metric], mode="lines+markers",
                    name=label, line={"color": colour(i)},
                    hovertext=[ctx.hover(r) for _, r in group.iterrows()],
                    hovertemplate="%{hovertext}<br><b>%{x:.3g}, %{y:.4g}</b><extra></extra>"))
            fig.update_xaxes(title_text="bank share of GPU memory (fraction)")
            fig.update_yaxes(title_text=metric_title)
        else:
            col, title, scale = second
            xs = np.sort(rows["cfg.bank_fraction"].unique())
            ys = np.sort(rows[col].unique())
            z = np.full((len(ys), len(xs)), np.nan)
            text = [["" for _ in xs] for _ in ys]
            # one cell per (split, second axis): the best point over the other axes
            best = rows.loc[rows.groupby(["cfg.bank_fraction", col])[metric].idxmax().dropna()]
            for _, r in best.iterrows():
                i, j = np.searchsorted(ys, r[col]), np.searchsorted(xs, r["cfg.bank_fraction"])
                z[i, j] = r[metric]
                text[i][j] = ctx.hover(r) + (
                    f"<br>KV cache: {int(r['memory.kv_capacity_tokens']):,} tokens"
                    if "memory.kv_capacity_tokens" in r else "")
            fig = go.Figure(go.Heatmap(
                x=[f"{x:g}" for x in xs], y=[f"{y * scale:.3g}" for y in ys], z=z,
                text=text, colorscale="Viridis", colorbar={"title": {"text": metric_title}},
                hovertemplate="%{text}<br><b>" + metric_title + ": %{z:.4g}</b><extra></extra>"))
            fig.update_xaxes(title_text="bank share of GPU memory (fraction)", type="category")
            fig.update_yaxes(title_text=title, type="category")
        intro = (f"<p>Goodput under the spec's SLO ({ctx.slo_text()}). GPU memory = weights + "
                 "KV cache + banks: the bank share is taken from what the weights leave."
                 + (" Each cell shows the best point over the other axes (hover for it)."
                    if second and len(ctx.series(rows)) > 1 else "") + "</p>")
        return Section("KV cache against banks: the memory split", intro,
                       [finish(fig, "Goodput by memory split", ctx.provenance(rows))])
