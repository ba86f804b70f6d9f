"""Per-request latency distributions: the empirical CDF of TTFT, TPOT and
end-to-end latency of each point, read from its per-request records
(`points/<key>/requests.parquet`). With many points, each series shows its
lowest, middle and highest load, so the page stays readable."""

from __future__ import annotations

import numpy as np

from reports.html.figures import colour, finish
from reports.html.sections.base import ReportSection, Section, register_section

METRICS = (("ttft_s", "TTFT (ms)", 1e3), ("tpot_s", "TPOT (ms)", 1e3),
           ("e2e_s", "E2E latency (s)", 1.0))
MAX_CURVES = 15
CDF_POINTS = 200  # quantiles drawn per curve
DASHES = ("solid", "dot", "dash", "longdash", "dashdot")  # one per load, lowest first


def _chosen(ctx, rows):
    if len(rows) <= MAX_CURVES:
        return [(label, r) for label, g in ctx.series(rows) for _, r in g.iterrows()]
    picked = []
    for label, group in ctx.series(rows):
        group = group.sort_values("request_rate_per_s")
        idx = sorted({0, len(group) // 2, len(group) - 1})
        picked += [(label, group.iloc[i]) for i in idx]
    return picked[:MAX_CURVES * 2]


def _load_key(rate) -> float:
    return -1.0 if rate is None or rate != rate else float(rate)


def _load(rate) -> str:
    if rate is None or rate != rate:
        return "replayed arrivals"
    return f"{rate:.3g} req/s" if np.isfinite(rate) else "saturation"


@register_section("latency-cdf")
class LatencyCDF(ReportSection):
    def applies(self, ctx) -> bool:
        rows = ctx.ok
        return "records" in rows and any((ctx.sweep_dir / p).exists() for p in rows["records"])

    def build(self, ctx) -> Section:
        import pandas as pd
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=3, subplot_titles=[m[1] for m in METRICS],
                            horizontal_spacing=0.07)
        chosen = _chosen(ctx, ctx.ok)
        labels = list(dict.fromkeys(label for label, _ in chosen))
        loads = sorted({_load_key(r["request_rate_per_s"]) for _, r in chosen})
        q = np.linspace(0, 1, CDF_POINTS)
        drawn = []
        for label, row in chosen:
            path = ctx.sweep_dir / row["records"]
            if not path.exists():
                continue
            records = pd.read_parquet(path, columns=[m[0] for m in METRICS])
            name = f"{label} @ {_load(row['request_rate_per_s'])}"
            hover = ctx.hover(row)
            for j, (metric, _, scale) in enumerate(METRICS):
                v = records[metric].dropna().to_numpy() * scale
                if len(v) == 0:
                    continue
                fig.add_trace(go.Scatter(
                    x=np.quantile(v, q), y=q, mode="lines", name=name, legendgroup=name,
                    showlegend=j == 0, line={"color": colour(labels.index(label)), "dash": DASHES[
                        loads.index(_load_key(row["request_rate_per_s"])) % len(DASHES)]},
                    hovertext=[hover] * len(q),
                    hovertemplate="%{hovertext}<br><b>%{x:.4g} at quantile %{y:.3f}</b>"
                                  "<extra></extra>"), row=1, col=j + 1)
            drawn.append(row)
        for j, (_, title, _) in enumerate(METRICS):
            fig.update_xaxes(title_text=title, type="log", row=1, col=j + 1)
            fig.update_yaxes(title_text="fraction of requests", range=[0, 1.02], row=1, col=j + 1)
        provenance = ctx.provenance(pd.DataFrame(drawn)) if drawn else ctx.provenance(ctx.ok)
        intro = (f"<p>{len(drawn)} of {len(ctx.ok)} points drawn (per series: lowest, middle "
                 "and highest load when there are many); colour: series, dash: load. "
                 "Latency axes are logarithmic.</p>")
        return Section("Per-request latency distributions", intro,
                       [finish(fig, "Latency CDFs", provenance, height=460)])
