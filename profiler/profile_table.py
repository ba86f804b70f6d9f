"""A profile on disk: one table of timings plus a JSON sidecar of metadata.

The table (CSV or Parquet, chosen by the suffix) has one row per measured
point: `component` (layer, attention, mlp, kv_projection, logits,
step_overhead, lookup, copy_d2h, copy_h2d), its shape columns and
`median_s`, `p10_s`, `p90_s`, `repeats`, `inner`. The sidecar `<stem>.json`
says what was measured where: model, dtype, device name, cores, threads,
torch and faiss versions, date, grid and the command that made it. Reading
checks both, so a garbled or foreign file is a one-line `UserError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from skipsim.errors import UserError

SHAPE_COLUMNS = {"tokens": 0, "batch": 0, "context": 0, "bank_entries": 0,
                 "num_queries": 0}
TEXT_COLUMNS = {"phase": "", "index": "", "where": ""}
TIME_COLUMNS = ("median_s", "p10_s", "p90_s")
COLUMNS = ("component", *TEXT_COLUMNS, *SHAPE_COLUMNS, *TIME_COLUMNS, "repeats", "inner")
REQUIRED_META = ("model", "num_layers", "hidden_size", "dtype", "device_kind", "device_name",
                 "threads", "torch_version", "date_utc")
SUFFIXES = (".csv", ".parquet")


def profile_label(meta: dict) -> str:
    """How a measured profile names itself in every output."""
    return (f"measured: {meta['device_name']}, {meta['threads']} thread(s), "
            f"{meta['model']} {meta['dtype']}")


def sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


@dataclass
class ProfileTable:
    rows: pd.DataFrame
    meta: dict

    @classmethod
    def from_records(cls, records: list[dict], meta: dict) -> ProfileTable:
        df = pd.DataFrame.from_records(records)
        for col, default in {**SHAPE_COLUMNS, **TEXT_COLUMNS}.items():
            df[col] = df[col].fillna(default) if col in df else default
        df = df[list(COLUMNS)].astype({c: "int64" for c in SHAPE_COLUMNS})
        return cls(df.reset_index(drop=True), dict(meta))

    def component(self, name: str) -> pd.DataFrame:
        return self.rows[self.rows["component"] == name]

    @property
    def label(self) -> str:
        return profile_label(self.meta)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix not in SUFFIXES:
            raise UserError(f"{path}: a profile is saved as .csv or .parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            self.rows.to_csv(path, index=False, float_format="%.6e")
        else:
            self.rows.to_parquet(path, index=False)
        sidecar(path).write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ProfileTable:
        path = Path(path)
        if path.suffix not in SUFFIXES:
            raise UserError(f"{path}: not a profile (expected a .csv or .parquet table)")
        if not path.is_file():
            raise UserError(f"profile {path} does not exist")
        meta_path = sidecar(path)
        if not meta_path.is_file():
            raise UserError(f"profile {path} has no metadata file {meta_path.name} beside it")
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"{meta_path}: not valid JSON ({err})") from None
        if not isinstance(meta, dict) or any(k not in meta for k in REQUIRED_META):
            missing = [k for k in REQUIRED_META if not isinstance(meta, dict) or k not in meta]
            raise UserError(f"{meta_path}: profile metadata lacks {', '.join(missing)}")
        try:
            rows = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        except Exception as err:  # pandas/pyarrow raise many types for a bad file
            raise UserError(f"{path}: cannot read the profile table "
                            f"({type(err).__name__}: {str(err).splitlines()[0][:120]})") from None
        missing = [c for c in COLUMNS if c not in rows.columns]
        if missing:
            raise UserError(f"{path}: profile table lacks column(s) {', '.join(missing)}")
        rows = rows[list(COLUMNS)].copy()
        for col, default in TEXT_COLUMNS.items():
            rows[col] = rows[col].fillna(default).astype(str)
        try:
            rows = rows.astype({**{c: "int64" for c in SHAPE_COLUMNS},
                                **{c: "float64" for c in TIME_COLUMNS}})
        except (ValueError, TypeError) as err:
            raise UserError(f"{path}: profile table has non-numeric values ({err})") from None
        if not (rows["median_s"] > 0).all() and not rows.empty:
            bad = rows[~(rows["median_s"] > 0) & (rows["component"] != "step_overhead")]
            if len(bad):
                raise UserError(f"{path}: {len(bad)} row(s) with a non-positive median_s")
        return cls(rows, meta)
