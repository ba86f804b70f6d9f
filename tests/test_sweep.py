"""`simulate sweep`: a spec's points are its axes' product; each point is
what `simulate run` computes for the same options; the table is the same on
every backend and worker count; an interrupted sweep resumes; a failing
point records its one-line reason and the others go on."""

import json

import pandas as pd
import pytest

from reports.backends import make_backend
from reports.options import command, run_spec
from reports.spec import SweepSpec
from reports.sweep import run_sweep
from reports.table import read_table
from reports.worker import TIMING_COLUMNS
from skipsim.cli import main
from skipsim.errors import UserError
from tests.sweep_helpers import BASE, small_spec


def _rows(frame):
    return frame.drop(columns=list(TIMING_COLUMNS)).sort_values("point_id").reset_index(drop=True)


def test_points_are_the_product_of_the_axes_first_axis_slowest():
    spec = small_spec({"policy": ["fcfs", "round-robin"], "request-rate": [1, 2, 4]})
    points = spec.points()
    assert [(p.options["policy"], p.options["request-rate"]) for p in points] == [
        (a, r) for a in ("fcfs", "round-robin") for r in (1, 2, 4)]
    assert len({p.key for p in points}) == 6 and [p.point_id for p in points] == list(range(6))
    assert points[0].options["goodput"] == ["ttft:500", "tpot:100"]  # the spec's SLO


def test_a_table_axis_sets_several_options_under_one_label():
    spec = small_spec({"setup": [{"name": "small-gpu", "device": "a100-80gb", "gpu_memory": 1},
                                 {"device": "cpu"}]})
    first, second = spec.points()
    assert first.axes == {"setup": "small-gpu"} and first.options["gpu-memory"] == 1
    assert second.axes == {"setup": "device=cpu"} and "gpu-memory" not in second.options


@pytest.mark.parametrize("data,message", [
    ({"axes": {"polcy": ["fcfs"]}}, "unknown option 'polcy'"),
    ({"axes": {"out": ["x"]}}, "unknown option 'out'"),
    ({"axes": {"policy": []}}, "non-empty list"),
    ({"slo": {"ttft": 5}}, "slo keys"),
    ({"bases": {}}, "unknown key(s) bases"),
    ({"axes": {"num-prompts": ["many"]}}, "not a valid value"),
    ({"axes": {"rate-fraction": [0.5]}, "base": {**BASE, "request-rate": 2}}, "not both"),
])
def test_bad_specs_are_one_line_errors(data, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        for point in SweepSpec.from_dict({"base": dict(BASE), **data}).points():
            run_spec(point.options)


def test_a_point_is_what_simulate_run_computes(tmp_path, capsys):
    spec = small_spec({"policy": ["round-robin"], "request-rate": [4]})
    run_sweep(spec, tmp_path / "sweep", make_backend("serial", 1), progress=False)
    row = read_table(tmp_path / "sweep").iloc[0]
    argv = command(json.loads(row["options"])).split()[1:] + ["--no-progress",
                                                               "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["skipsim"]
    for key in ("ttft_s", "tpot_s", "e2e_s"):
        for stat in ("mean", "p50", "p99"):
            assert row[f"{key}.{stat}"] == summary[key][stat]
    assert row["expected_agreement"] == summary["expected_agreement"]
    assert row["goodput_per_s"] == summary["goodput_per_s"]
    assert "analytic roofline" in row["label.cost_model"] and row["error"] == ""


def test_pool_and_ray_give_the_serial_table(tmp_path):
    spec = small_spec()
    tables = {}
    for name, workers in (("serial", 1), ("pool", 2), ("ray", 2)):
        run_sweep(spec, tmp_path / name, make_backend(name, workers), progress=False)
        tables[name] = _rows(read_table(tmp_path / name))
    assert len(tables["serial"]) == 8
    pd.testing.assert_frame_equal(tables["pool"], tables["serial"])
    pd.testing.assert_frame_equal(tables["ray"], tables["serial"])


def test_an_interrupted_sweep_resumes(tmp_path):
    spec = small_spec()
    backend = make_backend("serial", 1)
    # "killed" after 3
    first = run_sweep(spec, tmp_path, backend, progress=False, point_ids=range(3))
    assert (first.ran, first.skipped) == (3, 0)
    before = read_table(tmp_path)
    second = run_sweep(spec, tmp_path, backend, progress=False)
    assert (second.ran, second.skipped) == (5, 3)
    after = read_table(tmp_path)
    pd.testing.assert_frame_equal(after.iloc[:3], before)  # finished rows kept, not rerun
    fresh = tmp_path / "fresh"
    run_sweep(spec, fresh, backend, progress=False)
    pd.testing.assert_frame_equal(_rows(after), _rows(read_table(fresh)))


def test_a_failing_point_records_its_reason_and_the_rest_go_on(tmp_path, capsys):
    spec = small_spec({"gpu-memory": [4, 0.3]})  # 0.3 GiB holds no SmolLM2 weights
    outcome = run_sweep(spec, tmp_path, make_backend("pool", 2), progress=False)
    table = read_table(tmp_path)
    assert outcome.failed == 1 and len(table) == 2
    good, bad = table.iloc[0], table.iloc[1]
    assert good["error"] == "" and good["completed"] == 30
    assert "exceed" in bad["error"] and "\n" not in bad["error"]
    assert pd.isna(bad["completed"]) and "--gpu-memory 0.3" in bad["command"]


def test_sweep_cli_bad_spec_is_one_line(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text("[axes]\npolicy = [\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not valid TOML" in err[0]
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


def test_sweep_cli_runs_then_resumes(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('title = "cli"\n[base]\ntrace = "fixed"\nnum-prompts = 10\n'
                    'cost-model = "roofline"\n[axes]\npolicy = ["fcfs", "round-robin"]\n'
                    'request-rate = [1, "inf"]\n')
    argv = ["sweep", str(spec), "--out", str(tmp_path / "o"), "--serial", "--no-progress"]
    assert main(argv) == 0
    assert "4 point(s) run, 0 already finished, 0 failed" in capsys.readouterr().err
    assert main(argv) == 0
    assert "0 point(s) run, 4 already finished" in capsys.readouterr().err
    assert len(read_table(tmp_path / "o")) == 4


def test_rate_fractions_are_shares_of_one_capacity(tmp_path):
    """The capacity a fraction refers to does not depend on the fraction."""
    spec = small_spec({"rate-fraction": [0.3, 0.6, 1.2]})
    run_sweep(spec, tmp_path, make_backend("serial", 1), progress=False)
    rates = read_table(tmp_path)["request_rate_per_s"].to_numpy()
    assert rates[1] == pytest.approx(2 * rates[0]) and rates[2] == pytest.approx(4 * rates[0])


def test_points_start_longest_expected_first(tmp_path):
    """Graham's LPT rule: the lowest offered rate (most steps for the same
    requests) goes to a worker first; `rate inf` (full batches) goes last."""
    from reports.backends.base import Backend

    class Recording(Backend):
        name = "recording"
        started: list = []

        def map_unordered(self, fn, tasks):
            for task in tasks:
                self.started.append(task[2]["request-rate"])
                yield fn(task)

    spec = small_spec({"request-rate": [8, "inf", 2, 4]})
    run_sweep(spec, tmp_path, Recording(1), progress=False)
    assert Recording.started == [2, 4, 8, "inf"]
    assert read_table(tmp_path)["point_id"].tolist() == [0, 1, 2, 3]  # the table keeps spec order
