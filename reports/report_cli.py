"""`simulate report DIR --out page.html`: one self-contained HTML page of a
sweep's results (plotly.js inlined: it opens offline, with no server).

    simulate report sweeps/memsplit --out memsplit.html
"""

from __future__ import annotations

import sys
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("sweep", metavar="DIR", help="a sweep folder (`simulate sweep --out`)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="the page (default: DIR/report.html)")
    parser.add_argument("--title", default=None, help="page title (default: the spec's)")
    parser.add_argument("--validation", default=None, metavar="PATH",
                        help="a `simulate validate` result (its validation.json or --out "
                             "folder) for the validation section (default: DIR/validation.json "
                             "or DIR/validation/validation.json)")


def run(args) -> int:
    from reports.html.page import build_page

    page = build_page(args.sweep, args.title, args.validation)
    out = Path(args.out) if args.out else Path(args.sweep) / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out} ({len(page) / 1e6:.1f} MB)", file=sys.stderr)
    return 0
