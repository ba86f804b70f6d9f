"""Shared figure conventions: every figure's title carries the cost and skip
models that produced it, axes name their units, markers carry the point's
configuration as hover text, and figures become `<div>`s that use the one
plotly.js inlined in the page."""

from __future__ import annotations

import html
import math

# plotly's default qualitative palette, fixed so colours mean the same series
# across a report's figures
PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692",
           "#b6e880", "#ff97ff", "#fecb52")
HOVER = "%{hovertext}<br><b>%{x:.4g}, %{y:.4g}</b><extra></extra>"


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def finish(fig, title: str, provenance: str, height: int = 420):
    """Title with the provenance line under it; closest-point hover; white theme."""
    fig.update_layout(
        title={"text": f"{html.escape(title)}<br><sup>{html.escape(provenance)}</sup>",
               "x": 0.01, "xanchor": "left"},
        template="plotly_white", hovermode="closest", height=height,
        margin={"t": 90, "l": 70, "r": 20, "b": 60},
        legend={"orientation": "v", "font": {"size": 11}})
    return fig


def log_if_wide(values) -> str:
    """A log axis when the values span more than a factor of 20."""
    v = [x for x in values if math.isfinite(x) and x > 0]
    return "log" if v and max(v) / min(v) > 20 else "linear"


def to_div(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
