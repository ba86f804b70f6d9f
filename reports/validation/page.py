"""The self-contained HTML page (plotly, plotly.js inlined: opens offline):
the error table (the one `simulate report` shows in its validation section),
the printed table, then per load, policy, mode and cost model the TTFT/TPOT/E2E
CDFs of the simulated and real requests overlaid, and the cost model's
predicted step time against the measured one (the diagonal is a perfect
price). The page shell is the sweep report's (`reports.html.page`).
"""

from __future__ import annotations

import html
from pathlib import Path

from reports.validation.report import format_table


def _cdf(values: list) -> tuple[list, list]:
    n = len(values)
    return values, [(i + 1) / n for i in range(n)]


def row_figure(row: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=4, subplot_titles=(
        "TTFT CDF (s)", "TPOT CDF (s)", "E2E CDF (s)", "step time: price vs measured (s)"))
    for col, m in enumerate(("ttft_s", "tpot_s", "e2e_s"), start=1):
        for side, dash in (("sim", "dash"), ("real", "solid")):
            x, y = _cdf(row["cdf"][m][side])
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{side} {m}",
                                     line={"dash": dash}), row=1, col=col)
    pts = row["steps_plot"]
    fig.add_trace(go.Scatter(x=pts["real_s"], y=pts["price_s"], mode="markers",
                             marker={"size": 3}, name="steps"), row=1, col=4)
    hi = max(pts["real_s"] + pts["price_s"] + [1e-6])
    fig.add_trace(go.Scatter(x=[0, hi], y=[0, hi], mode="lines", name="exact",
                             line={"color": "grey"}), row=1, col=4)
    fig.update_layout(height=360, title=f"{row['policy']}, load {row['load']:g} "
                                        f"({row['rate_req_per_s']:.3g} req/s), {row['mode']}, "
                                        f"cost: {row.get('cost', 'profile')}")
    return fig


def write_page(result: dict, path: Path) -> Path:
    from reports.html.figures import to_div
    from reports.html.page import html_document
    from reports.html.sections.validation import error_table

    divs = [to_div(row_figure(row), f"fig-{i}") for i, row in enumerate(result["rows"])]
    body = (f"<section>{error_table(result)}<pre>{html.escape(format_table(result))}</pre>"
            f"</section><section>{''.join(divs)}</section>")
    path.write_text(html_document("skipsim validate", body, footer="skipsim validate"),
                    encoding="utf-8")
    return path
