"""Start-up stays light: `--help`, argument errors and the simulator itself
import no heavy library, and importing leaves the environment alone.

Each check runs in a fresh interpreter (a subprocess), since this test
process has long imported everything. The wall times are a benchmark figure
(`benchmarks/bench_startup.py`), not asserted here.
"""

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "sklearn", "faiss", "pandas", "plotly", "ray", "pulp", "scipy")
SUBCOMMAND_MODULES = ("simulator.cli", "traces.cli", "profiler.cli", "profiler.calibration.cli",
                      "reports.validation.cli")


def _loaded_after(code: str, tmp_path) -> dict:
    """Run `code` in a fresh python; return the loaded module names (of those
    asked about) and the environment variables it added."""
    probe = f"""
import json, os, sys
before = dict(os.environ)
try:
{chr(10).join('    ' + line for line in code.strip().splitlines())}
except SystemExit:
    pass
names = {list(HEAVY + SUBCOMMAND_MODULES + ("numpy",))!r}
print(json.dumps({{"modules": [m for m in names if m in sys.modules],
                  "env": sorted(set(os.environ) - set(before))}}))
"""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_simulator_loads_no_model_library_and_sets_no_environment(tmp_path):
    got = _loaded_after("import simulator.run", tmp_path)
    assert not {"torch", "transformers", "sklearn", "faiss"} & set(got["modules"])
    assert got["env"] == []


def test_a_run_with_the_measured_cost_model_and_skip_profile_loads_no_model_library(tmp_path):
    got = _loaded_after("""
from skipsim.cli import main
assert main(["run", "--trace", "fixed", "--num-prompts", "4", "--request-rate", "2",
             "--cost-model", "auto", "--skip-model", "measured", "--no-progress",
             "--out", "out"]) == 0
""", tmp_path)
    assert not {"torch", "transformers", "sklearn", "faiss"} & set(got["modules"])
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["labels"]["cost_model"].startswith("measured")
    assert config["labels"]["skip_model"].startswith("measured")


RUN = ("simulator.cli", "traces.cli")  # `run` shares the workload flags of `trace`


@pytest.mark.parametrize("argv, modules", [
    (["--help"], ()),
    (["run", "--help"], RUN),
    (["run", "--policy", "bogus"], RUN),
    (["run", "--gpu-memory", "nan"], RUN),
    (["--trace", "fixed", "--out", "/proc/x"], RUN),
    (["trace", "--help"], ("traces.cli",)),
    (["profile", "--help"], ("profiler.cli",)),
    (["calibrate", "--help"], ("profiler.calibration.cli",)),
    (["calibrate", "--router", "bogus"], ("profiler.calibration.cli",)),
    (["validate", "--help"], ("reports.validation.cli",)),
    (["validate", "--policy", "bogus"], ("reports.validation.cli",)),
])
def test_help_and_argument_errors_import_only_their_subcommand(argv, modules, tmp_path):
    got = _loaded_after(f"from skipsim.cli import main\nmain({argv!r})", tmp_path)
    assert [m for m in got["modules"] if m in HEAVY] == []
    assert sorted(m for m in got["modules"] if m in SUBCOMMAND_MODULES) == sorted(modules)


@pytest.mark.parametrize("argv", [
    ["--help"], ["run", "--help"], ["run", "--scheduler", "bogus"], ["run", "--seed", "-1"],
    ["run", "--request-rate", "0"], ["trace", "--help"], ["trace", "--request-rate", "0"],
    ["profile", "--help"], ["calibrate", "--help"], ["calibrate", "--target-agreement", "2"],
])
def test_flags_parse_without_numpy(argv, tmp_path):
    """Names and defaults come from light modules (configs, registry tables)."""
    got = _loaded_after(f"from skipsim.cli import main\nmain({argv!r})", tmp_path)
    assert "numpy" not in got["modules"]
