"""`simulate execute` end to end on SmolLM2 with the committed SkipProfile's
real routers (slow: loads the model; the first run also records the
calibration prompts to rebuild the banks, ~10 min of one core)."""

import json

import pandas as pd
import pytest

from simulator.records import RECORD_COLUMNS
from skipsim.cli import main


@pytest.mark.slow
def test_execute_with_real_routers_writes_every_output(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["execute", "--trace", "fixed", "--prompt-tokens", "32", "--output-tokens", "8",
                 "--num-prompts", "3", "--skip-target", "0.8", "--out", str(out),
                 "--timeline", str(tmp_path / "t.json"), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "REAL run" in printed and "router: knn @ 0.8" in printed
    records = pd.read_csv(out / "requests.csv")
    assert list(records.columns) == list(RECORD_COLUMNS) and len(records) == 3
    assert (records["output_tokens"] == 8).all()
    # every decode token is looked up at least at the first inner checkpoint
    assert (records["lookups"] >= records["output_tokens"] - 1).all()
    decisions = pd.read_csv(out / "decisions.csv")
    assert len(decisions) == records["lookups"].sum()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed"] == 3 and summary["skipsim"]["labels"]["run"] == "real"
    assert (out / "steps.parquet").is_file() and (tmp_path / "t.json").is_file()
