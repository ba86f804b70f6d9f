"""Plain HTML tables (escaped cells), for the sections that show rows."""

from __future__ import annotations

import html


def html_table(header: list, rows: list[list], code_columns=()) -> str:
    def cell(i, v):
        text = html.escape(_fmt(v))
        return f"<td><code>{text}</code></td>" if i in code_columns else f"<td>{text}</td>"
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f'<table class="rows"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if v != v else f"{v:.4g}"
    return str(v)
