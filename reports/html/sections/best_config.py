"""The best configurations under the SLO: the points with the highest
goodput (requests/s meeting every SLO of the spec; throughput when the spec
has none), with their tail latencies, agreement, and the `simulate run`
command that reproduces each (a rate fraction replaced by the rate it
resolved to)."""

from __future__ import annotations

from html import escape

from reports.html.figures import colour, finish
from reports.html.sections.base import ReportSection, Section, register_section
from reports.html.sections.memory_split import goodput_column
from reports.html.tables import html_table

TOP = 10


@register_section("best")
class BestConfiguration(ReportSection):
    def applies(self, ctx) -> bool:
        return not ctx.ok.empty

    def build(self, ctx) -> Section:
        import plotly.graph_objects as go

        rows = ctx.ok
        metric, metric_title = goodput_column(rows)
        best = rows.sort_values([metric, "point_id"], ascending=[False, True]).head(TOP)
        names = [", ".join(f"{a}={r[f'axis.{a}']}" for a in ctx.axes) or f"point {r['point_id']}"
                 for _, r in best.iterrows()]
        fig = go.Figure(go.Bar(
            x=best[metric], y=[f"#{i + 1} {n}" for i, n in enumerate(names)], orientation="h",
            marker={"color": colour(0)}, hovertext=[ctx.hover(r) for _, r in best.iterrows()],
            hovertemplate="%{hovertext}<br><b>%{x:.4g}</b><extra></extra>"))
        fig.update_xaxes(title_text=metric_title)
        fig.update_yaxes(title_text="configuration", autorange="reversed", automargin=True)
        header = ["#", "configuration", metric_title, "SLO attainment", "TTFT p99 (ms)",
                  "TPOT p99 (ms)", "agreement", "command"]
        table = [[i + 1, n, r[metric], r.get("slo_attainment", float("nan")),
                  r["ttft_s.p99"] * 1e3, r["tpot_s.p99"] * 1e3, r["expected_agreement"],
                  r["command"]] for i, (n, (_, r)) in enumerate(zip(names, best.iterrows()))]
        intro = (f"<p>The {len(best)} points with the highest {escape(metric_title)} "
                 f"({escape(ctx.slo_text())}). The best: <code>{escape(best.iloc[0]['command'])}"
                 "</code></p>")
        return Section("Best configuration under the SLO", intro,
                       [finish(fig, "Best configurations", ctx.provenance(best),
                               height=140 + 32 * len(best))],
                       html_table(header, table, code_columns=(7,)))
