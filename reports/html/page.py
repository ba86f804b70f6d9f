"""Assemble the report page: the sections that apply to the sweep's table,
each with its figures as plotly `<div>`s, and plotly.js itself inlined in
the page's head, so the one file opens offline with no server."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from reports.html.context import ReportContext
from reports.html.figures import to_div
from reports.html.sections import SECTIONS
from reports.sweep import SPEC_COPY
from reports.table import read_table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 24px;
       color: #222; }
header { border-bottom: 1px solid #ddd; margin-bottom: 8px; }
nav a { margin-right: 14px; }
section { margin: 28px 0; }
table.rows { border-collapse: collapse; font-size: 13px; margin: 10px 0; }
table.rows th, table.rows td { border: 1px solid #ddd; padding: 3px 8px; text-align: left;
                               vertical-align: top; }
table.rows code { font-size: 12px; white-space: pre-wrap; word-break: break-all; }
footer { color: #777; font-size: 12px; margin: 40px 0 20px; }
"""


def build_page(sweep_dir: str | Path, title: str | None = None,
               validation: str | Path | None = None) -> str:
    sweep_dir = Path(sweep_dir)
    frame = read_table(sweep_dir)
    spec_path = sweep_dir / SPEC_COPY
    spec = json.loads(spec_path.read_text()) if spec_path.exists() else {}
    ctx = ReportContext(sweep_dir, frame, spec, Path(validation) if validation else None)
    title = title or spec.get("title") or sweep_dir.name
    parts, nav = [], []
    for name, cls in SECTIONS.items():
        section_obj = cls()
        if (section_obj.needs_points and ctx.ok.empty) or not section_obj.applies(ctx):
            continue
        section = section_obj.build(ctx)
        divs = "".join(to_div(fig, f"fig-{name}-{i}") for i, fig in enumerate(section.figures))
        nav.append(f'<a href="#{name}">{escape(section.title)}</a>')
        parts.append(f'<section id="{name}" data-figures="{len(section.figures)}">'
                     f"<h2>{escape(section.title)}</h2>{section.intro}{divs}{section.html}"
                     "</section>")
    return html_document(title, "".join(parts), "".join(nav),
                         f"skipsim sweep report of <code>{escape(str(sweep_dir))}</code>")


def html_document(title: str, body: str, nav: str = "", footer: str = "skipsim") -> str:
    """The page around `body` (HTML): the report's style and plotly.js inlined
    in the head, so every figure div (`figures.to_div`) draws offline."""
    import plotly
    from plotly.offline import get_plotlyjs

    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style>"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{escape(title)}</h1><nav>{nav}</nav></header>{body}"
            f"<footer>{footer}; plotly.js {plotly.__version__} inlined.</footer></body></html>")
