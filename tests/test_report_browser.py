"""The report in a real browser: headless Chromium (Debian's `chromium`,
driven by playwright) opens the page from disk with no network, logs no
console errors, draws every section's figures (an SVG holding data marks),
shows a point's configuration when it is hovered, and takes a screenshot.

Set SKIPSIM_SCREENSHOT=path.png to keep the screenshot."""

import os
import shutil
from pathlib import Path

import pytest

from reports.html.page import build_page
from tests.test_report import full_sweep  # noqa: F401  (the module fixture)

CHROMIUM = os.environ.get("SKIPSIM_CHROMIUM") or shutil.which("chromium") \
    or shutil.which("chromium-browser")
# marks plotly draws for data: scatter points and lines, bars, heatmap images
DATA_MARKS = ".scatterlayer .trace path, .barlayer .point path, .heatmaplayer image, .hm image"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (setup.sh installs it with apt-get where it can)")


def test_report_renders_in_headless_chromium(full_sweep, tmp_path):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright not installed (pip install -e .[dev])")
    page_file = tmp_path / "report.html"
    page_file.write_text(build_page(full_sweep), encoding="utf-8")
    errors = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 900},
                                      offline=True)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri(), wait_until="load", timeout=120_000)
        sections = page.eval_on_selector_all(
            "section", "els => els.map(e => [e.id, +e.dataset.figures])")
        assert len(sections) == 8
        for name, figures in sections:
            plots = page.locator(f"#{name} .js-plotly-plot")
            assert plots.count() == figures, name
            for i in range(figures):
                plot = plots.nth(i)
                assert plot.locator("svg.main-svg").count() >= 1, (name, i)
                assert plot.locator(DATA_MARKS).count() > 0, (name, i)
        point = page.locator("#load-curves .js-plotly-plot").first \
            .locator(".scatterlayer .trace .points path").first
        point.scroll_into_view_if_needed()
        box = point.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tooltip = page.locator("#load-curves .hoverlayer .hovertext").first
        tooltip.wait_for(timeout=10_000)
        text = tooltip.text_content()
        assert "point " in text and "checkpoints" in text and "cost: analytic roofline" in text
        shot = Path(os.environ.get("SKIPSIM_SCREENSHOT") or tmp_path / "report.png")
        page.locator("#load-curves").screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        browser.close()
    assert errors == []
