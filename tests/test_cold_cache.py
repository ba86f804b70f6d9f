"""Layer-side timings with the caches a step leaves (`profiler.cold_cache`):
what streams before each call is the rest of the model (tied weights once),
capped at two last-level caches; every timed layer and LM-head call of a
cold profile follows such a stream, a warm one never; the profile says which, and a partial
re-measurement of the layers carries that (and its speed probe) with it."""

import pytest

import profiler.cold_cache as cold_cache
from profiler.cold_cache import step_evict_bytes, weight_bytes
from profiler.grid import ProfileGrid
from profiler.profile_table import ProfileTable
from profiler.record import merge_parts
from tests.test_profiler_fitted import synthetic_profile


@pytest.fixture
def tiny_llama(one_torch_thread):
    from executor.tiny import tiny_model

    return tiny_model(layers=4, hidden=32, heads=4, kv_heads=2, vocab=96, intermediate=64)


def nbytes(module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def test_tied_weights_are_counted_once():
    import torch

    w = torch.zeros(10, 4)
    assert weight_bytes([w, w, w[:5]]) == 160  # a view shares its storage
    assert weight_bytes([w, torch.zeros(3)]) == 172


def test_the_rest_of_the_model_streams_capped_at_two_caches(tiny_llama, monkeypatch):
    monkeypatch.setattr(cold_cache, "last_level_cache_bytes", lambda device: None)
    layers = list(tiny_llama.model.layers[:2])
    rest = nbytes(tiny_llama) - sum(nbytes(m) for m in layers)
    assert step_evict_bytes(tiny_llama, layers, "cpu") == rest
    head = [tiny_llama.model.embed_tokens, tiny_llama.model.norm, tiny_llama.lm_head]
    assert step_evict_bytes(tiny_llama, head, "cpu") == nbytes(tiny_llama) - sum(
        nbytes(m) for m in head)
    monkeypatch.setattr(cold_cache, "last_level_cache_bytes", lambda device: 1000)
    assert step_evict_bytes(tiny_llama, layers, "cpu") == 2000


def test_a_cpu_cache_size_is_read_off_sysfs():
    size = cold_cache.last_level_cache_bytes("cpu")
    assert size is None or size >= 1 << 16


@pytest.mark.parametrize("cold", [True, False])
def test_cold_rows_follow_a_stream_of_the_rest_every_call(tiny_llama, monkeypatch, cold):
    """Each timed layer-side call runs right after a stream of its kind's bytes
    (and a warm profile never streams)."""
    import dataclasses

    import profiler.layer_profile as lp

    streams, calls = [], []

    class Evictor:
        def __init__(self, max_bytes, device):
            self.max_bytes = max_bytes

        def before(self, n):
            assert n <= self.max_bytes
            return lambda: streams.append(n)

    real_measure = lp.measure

    def counting_measure(fn, clock, cfg, before=None):
        def op():
            calls.append((before is not None, len(streams)))
            return fn()
        return real_measure(op, clock, cfg, before)

    monkeypatch.setattr(lp, "CacheEvictor", Evictor)
    monkeypatch.setattr(lp, "measure", counting_measure)
    grid = dataclasses.replace(ProfileGrid.tiny(), cold_layers=cold)
    rows = lp.profile_layers(tiny_llama, grid, "cpu")
    assert {r["component"] for r in rows} == {"layer", "attention", "mlp", "kv_projection",
                                              "logits"}
    if not cold:
        assert streams == [] and not any(cold_call for cold_call, _ in calls)
        return
    # every layer or LM-head call follows a stream of its own (the K/V
    # projection, timed in a tight loop, none)
    assert [n for cold_call, n in calls if cold_call] == list(range(1, len(streams) + 1))
    sizes = lp.evict_bytes(lp.LayerBench(tiny_llama, "cpu", 0, grid.block_layers), "cpu")
    assert set(sizes) == {"layer", "logits"} and set(streams) == set(sizes.values())


def test_remeasured_layers_bring_their_cache_note_and_probe(tmp_path):
    base = ProfileTable.load(synthetic_profile(tmp_path))
    rows = base.rows[base.rows["component"].isin(["layer", "logits"])]
    note = {"cold": True, "evict_bytes": {"layer": 480}}
    new = ProfileTable(rows.assign(median_s=rows["median_s"] * 1.2), {
        **base.meta, "parts": ["layers"], "layer_caches": note,
        "speed_probe": {"reference_s": 0.027}})
    merged = merge_parts(base, new)
    assert merged.meta["layer_caches"] == note
    assert merged.meta["speed_probe"] == {"reference_s": 0.027}
    again = merge_parts(merged, ProfileTable(base.rows[base.rows["component"] == "lookup"],
                                             {**base.meta, "parts": ["lookups"],
                                              "index_settings": {}, "lookup_timed": "x",
                                              "bank_vectors": "y"}))
    assert again.meta["speed_probe"] == {"reference_s": 0.027}  # lookups leave it
