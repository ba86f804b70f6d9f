"""`simulate report`: one self-contained page whose sections follow from
the table (a load axis gives latency curves, a skip axis the frontier, a
bank-fraction axis the memory split, a checkpoints axis the plan
comparison, validation.json its table), each figure labelled with the cost
and skip models that produced it."""

import json
import re
from html.parser import HTMLParser

import pytest

from reports.backends import make_backend
from reports.html.page import build_page
from reports.sweep import run_sweep
from skipsim.cli import main
from tests.sweep_helpers import small_spec

ALL_AXES = {"checkpoints": ["10,10,6,4", "8,8,8,6"], "request-rate": [2, 8],
            "skip-rates": ["0.1", "0.3"], "bank-fraction": [0.01, 0.2]}


@pytest.fixture(scope="module")
def full_sweep(tmp_path_factory):
    """A sweep with every kind of axis, plus a validation.json beside it."""
    out = tmp_path_factory.mktemp("sweep")
    run_sweep(small_spec(ALL_AXES), out, make_backend("serial", 1), progress=False)
    (out / "validation.json").write_text(json.dumps(
        {"rows": [{"level": "request", "metric": "ttft_s.p50", "error_pct": 4.2}]}))
    return out


def _script_tags(page) -> list[dict]:
    """The attributes of every <script> tag (script bodies are not parsed as HTML)."""
    tags = []

    class Scripts(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "script":
                tags.append(dict(attrs))

    Scripts().feed(page)
    return tags


def _sections(page):
    return dict(re.findall(r'<section id="([a-z-]+)" data-figures="(\d+)"', page))


def test_sections_follow_from_the_table(full_sweep, tmp_path):
    sections = _sections(build_page(full_sweep))
    assert list(sections) == ["overview", "load-curves", "latency-cdf", "frontier",
                              "memory-split", "plans", "best", "validation"]
    run_sweep(small_spec({"policy": ["fcfs", "round-robin"]}), tmp_path,
              make_backend("serial", 1), progress=False)
    assert list(_sections(build_page(tmp_path))) == ["overview", "latency-cdf", "best"]


def test_the_page_is_self_contained_and_says_where_numbers_come_from(full_sweep, tmp_path):
    out = tmp_path / "page.html"
    assert main(["report", str(full_sweep), "--out", str(out)]) == 0
    page = out.read_text()
    scripts = _script_tags(page)
    assert scripts and all("src" not in attrs for attrs in scripts)  # plotly.js inlined
    assert "Plotly.newPlot" in page and len(page) > 3e6  # plotly.js is ~4 MB
    assert page.count("analytic roofline") >= 8  # every figure's provenance line
    assert "parametric" in page and "TTFT (ms)" in page and "offered load (req" in page
    assert "error_pct" in page  # the validation table
    assert "simulate run --trace fixed" in page  # the best point's command


def test_report_of_a_folder_without_results_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "p.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no sweep results" in err[0]


def test_a_sweep_whose_points_all_failed_still_reports_why(tmp_path):
    run_sweep(small_spec({"gpu-memory": [0.3]}), tmp_path, make_backend("serial", 1),
              progress=False)
    page = build_page(tmp_path)
    assert list(_sections(page)) == ["overview"] and "exceed" in page


def test_a_validate_result_is_found_and_shown_as_its_error_table(full_sweep, tmp_path):
    """`simulate report --validation DIR` reads validate's validation.json and
    shows one row per comparison with numbers in cells, not nested JSON."""
    def stat(sim, real):
        return {"sim": sim, "real": real, "err_pct": 100 * (sim - real) / real}

    result = {"rows": [{
        "policy": "no-skip", "load": 0.85, "mode": "no-skip", "cost": "refit",
        "request": {"e2e_mean": stat(1.1, 1.0), "e2e_p99": stat(2.0, 2.5),
                    "ttft_mean": stat(0.1, 0.1), "tpot_mean": stat(0.02, 0.025),
                    "skipped_fraction": {"sim": 0.0, "real": 0.0, "err_pct": 0.0}},
        "noise": {"e2e_mean": 3.5, "e2e_p99": 4.5},
        "step": {"all": {"n": 10, "median_ape": 12.5, "p90_ape": 30.0}}}],
        "goals": [{"met": False}, {"met": True}],
        "fit": {"on": "load 0.5, repeat 0 (no-skip)"}}
    folder = tmp_path / "validation"
    folder.mkdir()
    (folder / "validation.json").write_text(json.dumps(result))
    out = tmp_path / "page.html"
    assert main(["report", str(full_sweep), "--out", str(out), "--validation", str(folder)]) == 0
    section = out.read_text().split('<section id="validation"')[1].split("</section>")[0]
    assert "E2E mean err %" in section and "<td>refit</td>" in section
    assert "<td>10</td>" in section and "<td>-20</td>" in section  # +10% and -20%, as numbers
    assert "1 of 2 goals met" in section and "load 0.5, repeat 0" in section
    assert "{" not in section  # no raw JSON
