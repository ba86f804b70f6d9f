"""A profile survives its file, and a garbled or foreign file is one UserError."""

import json

import pandas as pd
import pytest

from profiler.profile_table import COLUMNS, ProfileTable, sidecar
from skipsim.errors import UserError

META = dict(model="smollm2", num_layers=30, hidden_size=576, dtype="float32",
            device_kind="cpu", device_name="AMD EPYC", threads=1, torch_version="2.13",
            date_utc="2026-11-23T00:00:00Z")


def small_table() -> ProfileTable:
    recs = [dict(component="layer", phase="prefill", tokens=16, batch=1, context=16,
                 median_s=1e-3, p10_s=9e-4, p90_s=1.2e-3, repeats=5, inner=1),
            dict(component="lookup", index="hnsw", where="cpu", bank_entries=1000,
                 num_queries=4, median_s=2e-4, p10_s=1e-4, p90_s=3e-4, repeats=5, inner=8)]
    return ProfileTable.from_records(recs, META)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path, suffix):
    table = small_table()
    path = table.save(tmp_path / f"p{suffix}")
    back = ProfileTable.load(path)
    assert back.meta == META
    pd.testing.assert_frame_equal(back.rows, table.rows, check_exact=False, rtol=1e-6)
    assert list(back.rows.columns) == list(COLUMNS)


def test_missing_file_sidecar_and_suffix(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        ProfileTable.load(tmp_path / "none.csv")
    path = small_table().save(tmp_path / "p.csv")
    sidecar(path).unlink()
    with pytest.raises(UserError, match="no metadata"):
        ProfileTable.load(path)
    with pytest.raises(UserError, match="expected a .csv or .parquet"):
        ProfileTable.load(tmp_path / "p.txt")


@pytest.mark.parametrize("garble", ["bad_json", "meta_lacks_model", "table_lacks_column",
                                    "text_in_times", "binary_table", "zero_time"])
def test_garbled_profiles_are_one_line_user_errors(tmp_path, garble):
    path = small_table().save(tmp_path / "p.csv")
    if garble == "bad_json":
        sidecar(path).write_text("{not json")
    elif garble == "meta_lacks_model":
        sidecar(path).write_text(json.dumps({k: v for k, v in META.items() if k != "model"}))
    elif garble == "table_lacks_column":
        pd.read_csv(path).drop(columns=["median_s"]).to_csv(path, index=False)
    elif garble == "text_in_times":
        df = pd.read_csv(path)
        df["median_s"] = "fast"
        df.to_csv(path, index=False)
    elif garble == "binary_table":
        path.write_bytes(b"\x00\xff\x10garbage\x00" * 10)
    elif garble == "zero_time":
        df = pd.read_csv(path)
        df["median_s"] = 0.0
        df.to_csv(path, index=False)
    with pytest.raises(UserError) as err:
        ProfileTable.load(path)
    assert "\n" not in str(err.value)
