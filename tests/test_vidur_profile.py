"""The offline Vidur profile (benchmarks/vidur_profile.py) prices a decoder
layer as skipsim's roofline does: its ops, summed, come within the gap
between per-op and per-layer maxima of `RooflineCostModel.block_time_s`,
and its tables carry the model shape Vidur filters its rows on."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from profiler.cost_model import BatchShape
from profiler.roofline import RooflineCostModel
from skipsim.model_spec import model_spec

PATH = Path(__file__).parents[1] / "benchmarks" / "vidur_profile.py"
spec = importlib.util.spec_from_file_location("vidur_profile", PATH)
vidur_profile = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vidur_profile)

MODEL, DEVICE = "llama-3-8b", "a100-80gb"


def _layer_ms(ops, batch: BatchShape) -> float:
    """One layer from the profile's ops, as Vidur adds them up (one norm
    before attention, one before the MLP, two residual adds)."""
    t = ops.token_ops(np.array([batch.tokens]))
    linear = sum(t[op][0] for op in ("attn_pre_proj", "attn_post_proj", "mlp_up_proj",
                                     "mlp_down_proj", "mlp_act", "attn_rope",
                                     "attn_kv_cache_save"))
    norms_adds = t["input_layernorm"][0] + t["post_attention_layernorm"][0] + 2 * t["add"][0]
    attention = sum(ops.prefill_attention(np.array([c]), np.array([n]))[0]
                    for n, c in batch.prefill_chunks)
    if batch.decode_context_lens:
        k = np.mean(batch.decode_context_lens)
        attention += ops.decode_attention(np.array([len(batch.decode_context_lens)]),
                                          np.array([k]))[0]
    return linear + norms_adds + attention


@pytest.mark.parametrize("batch", [
    BatchShape(decode_context_lens=(300,)),
    BatchShape(decode_context_lens=(700,) * 64),
    BatchShape(decode_context_lens=(1500,) * 256),
    BatchShape(prefill_chunks=((512, 0),)),
    BatchShape(prefill_chunks=((1024, 0), (900, 0))),
    BatchShape(prefill_chunks=((256, 1024),), decode_context_lens=(400,) * 32),
])
def test_a_layer_from_the_profile_is_the_roofline_layer(batch):
    ops = vidur_profile.RooflineOps(MODEL, DEVICE)
    roofline_ms = RooflineCostModel(model_spec(MODEL), DEVICE).block_time_s(1, batch) * 1e3
    assert _layer_ms(ops, batch) == pytest.approx(roofline_ms, rel=0.15)


def test_the_tables_carry_the_shape_vidur_filters_on(tmp_path):
    mlp, attention, digest = vidur_profile.write_profile(tmp_path, MODEL, DEVICE)
    s = model_spec(MODEL)
    m, a = pd.read_csv(mlp), pd.read_csv(attention)
    assert set(m[["n_head", "n_kv_head", "n_embd", "n_expanded_embd", "vocab_size",
                  "num_tensor_parallel_workers"]].drop_duplicates().itertuples(index=False)) \
        == {(s.num_heads, s.num_kv_heads, s.hidden_size, s.intermediate_size, s.vocab_size, 1)}
    assert m["use_gated_mlp"].all() and m["num_tokens"].is_monotonic_increasing
    # more tokens never take less time (weights are read once per batch)
    for col in (c for c in m if c.startswith("time_stats.")):
        assert (m[col] > 0).all() and m[col].is_monotonic_increasing, col
    decode = a[a["prefill_chunk_size"] == 0]
    prefill = a[a["prefill_chunk_size"] > 0]
    assert decode["time_stats.attn_decode.median"].notna().all()
    assert prefill["time_stats.attn_prefill.median"].notna().all()
    assert (a["block_size"] == 16).all() and (a["n_q_head"] == s.num_heads).all()
    # the digest names the contents: the same profile, the same digest
    assert vidur_profile.write_profile(tmp_path / "again", MODEL, DEVICE)[2] == digest
