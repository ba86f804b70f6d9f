"""A tiny real profile of SmolLM2 on this CPU (seconds): every component is
measured on the real model and faiss, recorded with its device, and fits."""

import pytest

from profiler.cost_model import BatchShape
from profiler.fit_profile import fit_profile
from profiler.fitted import MeasuredCostModel
from profiler.grid import ProfileGrid
from profiler.lookup_profile import IndexSettings, build_index, unit_vectors
from profiler.profile_table import ProfileTable
from profiler.record import record_profile


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    table = record_profile("smollm2", "cpu", ProfileGrid.tiny(), threads=1, command="test")
    return table, table.save(tmp_path_factory.mktemp("p") / "tiny.parquet")


def test_every_component_is_measured(tiny):
    table, _ = tiny
    got = set(table.rows["component"])
    assert got == {"layer", "attention", "mlp", "kv_projection", "logits", "step_overhead",
                   "lookup"}
    timed = table.rows[table.rows["component"] != "step_overhead"]
    assert (timed["median_s"] > 0).all()
    assert (timed["p10_s"] <= timed["median_s"]).all()
    assert (timed["median_s"] <= timed["p90_s"]).all()
    assert set(table.component("lookup")["index"]) == {"flat", "ivfpq", "hnsw"}


def test_the_overhead_is_the_executors_loop_per_policy(tiny):
    """One row per policy, from a real executor run: its steps counted, and
    each step's overhead (wall less pieces) a small positive time."""
    table, _ = tiny
    over = table.component("step_overhead").set_index("index")
    assert sorted(over.index) == ["deepest-first", "no-skip"]
    assert (over["repeats"] > 1).all()  # the run's steps
    assert ((over["median_s"] > 0) & (over["median_s"] < 0.05)).all()
    assert (over["p10_s"] <= over["p90_s"]).all()


def test_metadata_names_device_threads_versions(tiny):
    _, path = tiny
    meta = ProfileTable.load(path).meta
    assert meta["threads"] == 1 and meta["device_kind"] == "cpu"
    assert meta["num_layers"] == 30 and meta["hidden_size"] == 576
    for key in ("device_name", "cpu_cores", "torch_version", "faiss_version", "date_utc"):
        assert meta[key]
    assert meta["lookup_timed"].startswith("routing decision")


def test_the_tiny_profile_fits_and_prices_a_batch(tiny):
    _, path = tiny
    cm = MeasuredCostModel(profile=path, model="smollm2")
    assert cm.block_time_s(30, BatchShape(decode_context_lens=(128, 128))) > 0
    assert cm.lookup_time_s(1000, 4) > 0
    assert "layer" in fit_profile(ProfileTable.load(path)).fits


@pytest.mark.parametrize("kind", ["flat", "ivfpq", "hnsw"])
def test_indexes_find_an_exact_copy_of_a_bank_vector(kind):
    import numpy as np

    rng = np.random.default_rng(0)
    bank = unit_vectors(2000, 576, rng)
    index = build_index(kind, bank, IndexSettings(), rng)
    _, ids = index.search(bank[:5], 4)
    assert index.ntotal == 2000
    assert (ids[:, 0] == np.arange(5)).mean() >= (0.8 if kind == "ivfpq" else 1.0)
