"""Conservation laws under generated traces and configurations: every
request finishes exactly once with exactly the tokens it asked for, time
never runs backwards, the KV cache never holds more blocks than it has and
is empty at the end, and every decode pass accounts for all L layers
(executed + skipped)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.config import SimConfig
from simulator.run import simulate
from skipsim.model_spec import model_spec
from traces.trace import Trace

SPEC = model_spec("smollm2")
KV_BYTES_PER_TOKEN = SPEC.kv_bytes_per_token_per_layer * SPEC.num_layers


@st.composite
def traces(draw):
    n = draw(st.integers(1, 25))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.001, 0.01, 0.1]), min_size=n, max_size=n))
    prompts = draw(st.lists(st.integers(1, 120), min_size=n, max_size=n))
    outputs = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    return Trace(np.arange(n), np.cumsum(gaps), prompts, outputs, [None] * n)


@st.composite
def configs(draw):
    kv_tokens = draw(st.sampled_from([200, 400, 5000]))  # small caches force preemption
    placement = draw(st.sampled_from(["gpu", "cpu"]))
    return SimConfig(
        checkpoints=draw(st.sampled_from(["30", "8,4,4,4,4,2,2,2", "10,10,10", "5,5,5,5,5,5"])),
        policy=draw(st.sampled_from(["fcfs", "deepest-first", "round-robin",
                                     "largest-queue", "no-skip"])),
        kv_policy=draw(st.sampled_from(["project", "copy", "repair", "none"])),
        lookup_placement=placement,
        skip_model="parametric",
        skip_options={"hit_rates": str(draw(st.sampled_from([0.0, 0.3, 0.9]))),
                      "exit_prob": draw(st.sampled_from([0.0, 0.5])), "p_change": "0.2"},
        gpu_memory_bytes=SPEC.weight_bytes + kv_tokens * KV_BYTES_PER_TOKEN,
        bank_fraction=0.0 if placement == "gpu" else 0.01,
        max_num_seqs=draw(st.integers(1, 8)),
        max_batched_tokens=draw(st.sampled_from([16, 64, 2048])),
        chunked_prefill=draw(st.booleans()),
        prefill_chunk_tokens=draw(st.sampled_from([8, 64])),
        repair_batch_tokens=draw(st.sampled_from([1, 16])),
        num_gpus=draw(st.sampled_from([1, 2])),
        seed=draw(st.integers(0, 3)),
    )


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(trace=traces(), cfg=configs())
def test_conservation(trace, cfg):
    if cfg.num_gpus > len(cfg.checkpoints.split(",")):
        cfg = SimConfig(**{**cfg.to_dict(), "num_gpus": 1})
    res = simulate(trace, cfg, timeline=True)
    r, engine = res.records, res.engine

    assert engine.t.done.all() and engine.finished == len(trace)
    np.testing.assert_array_equal(r["output_tokens"], trace.output_tokens)
    assert np.all(r["arrival_time_s"] <= r["first_token_time_s"])
    assert np.all(r["first_token_time_s"] <= r["finish_time_s"])
    decode_passes = trace.output_tokens - 1
    np.testing.assert_array_equal(r["layers_executed"] + r["layers_skipped"],
                                  SPEC.num_layers * decode_passes)
    assert np.all((r["expected_agreement"] > 0) & (r["expected_agreement"] <= 1))

    engine.kv.check_integrity()
    engine.t.check_integrity()
    engine.repair_debt.check_integrity()
    assert engine.kv.used == 0 and engine.kv.peak_used <= engine.kv.capacity_blocks

    for track in range(cfg.num_gpus + 1):  # steps on one GPU never overlap or go back
        slices = [e for e in res.timeline.events if e.get("ph") == "X" and e["tid"] == track]
        starts = np.array([e["ts"] for e in slices])
        ends = starts + np.array([e["dur"] for e in slices])
        assert np.all(np.diff(starts) >= 0)
        assert np.all(starts[1:] >= ends[:-1] - 1e-6)
