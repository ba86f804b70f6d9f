"""The best configurations under the SLO, ranked as DistServe ranks
serving configurations (Zhong et al., "DistServe", OSDI 2024, §2: goodput
is the highest rate served with at least 90% of requests within the SLO):
the points whose SLO attainment is at least ATTAINMENT, by the request
rate they served; when none reaches it (or the spec has no SLO), all points
by goodput (requests/s within the SLO) or throughput. Each row carries its
tail latencies, agreement, and the `simulate run` command that reproduces
it (a rate fraction replaced by the rate it resolved to)."""

from __future__ import annotations

from html import escape

from reports.html.figures import colour, finish
from reports.html.sections.base import ReportSection, Section, register_section
from reports.html.sections.memory_split import TITLES, goodput_column
from reports.html.tables import html_table

TOP = 10
ATTAINMENT = 0.9


def ranked(rows) -> tuple[object, str, str]:
    """(rows best first, the column ranked by, how it was chosen)."""
    if "slo_attainment" in rows and (rows["slo_attainment"] >= ATTAINMENT).any():
        meeting = rows[rows["slo_attainment"] >= ATTAINMENT]
        return (meeting.sort_values(["request_throughput_per_s", "point_id"],
                                    ascending=[False, True]),
                "request_throughput_per_s",
                f"points with at least {ATTAINMENT:.0%} of requests within the SLO, by the "
                "request rate they served")
    metric, title = goodput_column(rows)
    why = (f"no point has {ATTAINMENT:.0%} of requests within the SLO"
           if "slo_attainment" in rows else "the spec has no SLO")
    return (rows.sort_values([metric, "point_id"], ascending=[False, True]), metric,
            f"{why}: all points by {title}")


@register_section("best")
class BestConfiguration(ReportSection):
    def applies(self, ctx) -> bool:
        return not ctx.ok.empty

    def build(self, ctx) -> Section:
        import plotly.graph_objects as go

        rows = ctx.ok
        order, metric, how = ranked(rows)
        best = order.head(TOP)
        metric_title = TITLES.get(metric, metric)
        names = [", ".join(f"{a}={r[f'axis.{a}']}" for a in ctx.axes) or f"point {r['point_id']}"
                 for _, r in best.iterrows()]
        fig = go.Figure(go.Bar(
            x=best[metric], y=[f"#{i + 1} {n}" for i, n in enumerate(names)], orientation="h",
            marker={"color": colour(0)}, hovertext=[ctx.hover(r) for _, r in best.iterrows()],
            hovertemplate="%{hovertext}<br><b>%{x:.4g}</b><extra></extra>"))
        fig.update_xaxes(title_text=metric_title)
        fig.update_yaxes(title_text="configuration", autorange="reversed", automargin=True)
        header = ["#", "configuration", "throughput (req/s)", "goodput (req/s)",
                  "SLO attainment", "TTFT p99 (ms)", "TPOT p99 (ms)", "agreement", "command"]
        nan = float("nan")
        table = [[i + 1, n, r["request_throughput_per_s"], r.get("goodput_per_s", nan),
                  r.get("slo_attainment", nan),
                  r["ttft_s.p99"] * 1e3, r["tpot_s.p99"] * 1e3, r["expected_agreement"],
                  r["command"]] for i, (n, (_, r)) in enumerate(zip(names, best.iterrows()))]
        intro = (f"<p>SLO: {escape(ctx.slo_text())}. Ranked: {escape(how)}. The best: "
                 f"<code>{escape(best.iloc[0]['command'])}</code></p>")
        return Section("Best configuration under the SLO", intro,
                       [finish(fig, "Best configurations", ctx.provenance(best),
                               height=140 + 32 * len(best))],
                       html_table(header, table, code_columns=(8,)))
