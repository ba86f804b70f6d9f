"""The sweep's results: one Parquet table, one row per point, sorted by
point id; rewritten whole (to a temporary file, then renamed) after every
point, so a sweep killed at any moment leaves a readable table of the
points finished so far."""

from __future__ import annotations

import os
from pathlib import Path

from skipsim.errors import UserError

TABLE_NAME = "results.parquet"


def table_path(sweep_dir: str | Path) -> Path:
    return Path(sweep_dir) / TABLE_NAME


def read_rows(sweep_dir: str | Path) -> list[dict]:
    """The rows written so far ([] for a new sweep)."""
    path = table_path(sweep_dir)
    if not path.exists():
        return []
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as err:
        raise UserError(f"{path} is not a readable Parquet table ({err}): move it away to "
                        "start the sweep afresh") from None
    return frame.to_dict("records")


def read_table(sweep_dir: str | Path):
    """The results as a DataFrame; a one-line error when there are none."""
    path = table_path(sweep_dir)
    if not path.exists():
        raise UserError(f"no sweep results in {str(sweep_dir)!r} (expected {TABLE_NAME}; "
                        "run `simulate sweep SPEC --out DIR` first)")
    import pandas as pd

    return pd.read_parquet(path)


def write_rows(sweep_dir: str | Path, rows: list[dict]) -> Path:
    import pandas as pd

    path = table_path(sweep_dir)
    frame = pd.DataFrame(sorted(rows, key=lambda r: r["point_id"]))
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
