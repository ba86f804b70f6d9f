"""The speed–accuracy frontier: expected agreement with the full model
against output throughput and against TPOT, one marker per point, for
sweeps that vary the skip behaviour (skip target, skip model, ...). The
no-skip points are the reference at agreement 1 (stars); the static
skipping baseline (ShortGPT-style fixed layers, measured live in the skip
profile at equal skipped fraction) is drawn against the skipped fraction,
the one axis on which it was measured."""

from __future__ import annotations

import json

from reports.html.figures import colour, finish
from reports.html.sections.base import ReportSection, Section, register_section

PANELS = (("output_throughput_tok_per_s", "output throughput (tok/s)", 1.0),
          ("tpot_s.p50", "TPOT p50 (ms)", 1e3),
          ("skipped_layer_fraction", "skipped layer fraction", 1.0))
SKIP_AXES = ("skip-target", "skip-model", "skip-config", "skip-rates", "p-change", "exit-prob")


def skip_axes(ctx) -> list[str]:
    """Axes that set the skip behaviour, by name or through their option tables."""
    out = []
    for axis, values in ctx.spec.get("axes", {}).items():
        keys = {axis} | {k for v in values if isinstance(v, dict) for k in v}
        if {k.replace("_", "-") for k in keys} & set(SKIP_AXES):
            out.append(axis)
    return out


def _no_skip(rows):
    return (rows["label.skip_model"].astype(str) == "no-skip") | (rows["cfg.policy"] == "no-skip")


def static_baseline(rows) -> tuple[list, list, str]:
    """(skipped fractions, agreements, profile) of the static baseline in the
    skip profile of the rows that sample a measured profile."""
    from simulator.skip_models.measured import DEFAULT_PROFILE

    measured = rows[rows["cfg.skip_model"] == "measured"]
    paths = {json.loads(o or "{}").get("skip_config") or str(DEFAULT_PROFILE)
             for o in measured.get("cfg.skip_options", [])}
    for path in sorted(paths):
        try:
            data = json.loads(open(path).read())
        except (OSError, ValueError):
            continue
        base = sorted(data.get("static_baseline", []), key=lambda r: r["skipped_fraction"])
        if base:
            return ([0.0] + [r["skipped_fraction"] for r in base],
                    [1.0] + [r["agreement"] for r in base], path)
    return [], [], ""


@register_section("frontier")
class Frontier(ReportSection):
    def applies(self, ctx) -> bool:
        return ctx.varies("cfg.skip_options") or ctx.varies("cfg.skip_model")

    def build(self, ctx) -> Section:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        rows = ctx.ok
        fig = make_subplots(rows=1, cols=3, subplot_titles=[p[1] for p in PANELS],
                            horizontal_spacing=0.07)
        ref = _no_skip(rows)
        skipping, reference = rows[~ref], rows[ref]
        exclude = skip_axes(ctx)
        for i, (label, group) in enumerate(ctx.series(skipping, exclude=exclude,
                                                      include_load=True)):
            group = group.sort_values("skipped_layer_fraction")
            hover = [ctx.hover(r) for _, r in group.iterrows()]
            for j, (col, _, scale) in enumerate(PANELS):
                fig.add_trace(go.Scatter(
                    x=group[col] * scale, y=group["expected_agreement"], mode="lines+markers",
                    name=label, legendgroup=label, showlegend=j == 0,
                    line={"color": colour(i)}, marker={"size": 8}, hovertext=hover,
                    hovertemplate="%{hovertext}<br><b>%{x:.4g}, agreement %{y:.4f}</b>"
                                  "<extra></extra>"), row=1, col=j + 1)
        if not reference.empty:
            hover = [ctx.hover(r) for _, r in reference.iterrows()]
            for j, (col, _, scale) in enumerate(PANELS):
                fig.add_trace(go.Scatter(
                    x=reference[col] * scale, y=reference["expected_agreement"], mode="markers",
                    name="no skipping (reference)", legendgroup="no-skip", showlegend=j == 0,
                    marker={"symbol": "star", "size": 14, "color": "black"}, hovertext=hover,
                    hovertemplate="%{hovertext}<br><b>%{x:.4g}, agreement %{y:.4f}</b>"
                                  "<extra></extra>"), row=1, col=j + 1)
        xs, ys, profile = static_baseline(rows)
        if xs:
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines+markers", name="static skipping (measured)",
                line={"color": "grey", "dash": "dot"}, marker={"symbol": "square"},
                hovertext=[f"static baseline of {profile}: {x:.3f} of layers skipped"
                           for x in xs],
                hovertemplate="%{hovertext}<br><b>agreement %{y:.4f}</b><extra></extra>"),
                row=1, col=3)
        for j, (_, title, _) in enumerate(PANELS):
            fig.update_xaxes(title_text=title, row=1, col=j + 1)
            fig.update_yaxes(title_text="expected agreement (fraction of tokens)", row=1, col=j + 1)
        intro = ("<p>Up and right is better on the first panel, up and left on the second. "
                 "Expected agreement is the simulated mean over output tokens of P(token = the "
                 "full model's token), from the skip model's measured error rates."
                 + (f" The static baseline comes from <code>{profile}</code>; its speed was "
                    "not simulated, so it appears on the skipped-fraction panel only." if xs
                    else "") + "</p>")
        return Section("Speed–accuracy frontier", intro,
                       [finish(fig, "Expected agreement against speed", ctx.provenance(rows),
                               height=460)])
