"""An offline Vidur profile priced by skipsim's roofline (no model hub needed).

Vidur (0.0.26) trains its execution-time predictors on two CSV tables that it
normally downloads from a model hub: `mlp.csv` (per-layer token-wise ops:
QKV and output projections, gate/up and down projections, activation, norms,
RoPE, residual add, against `num_tokens`) and `attention.csv` (prefill
attention against (kv_cache_size, prefill_chunk_size), decode attention
against (batch_size, kv_cache_size), KV-cache save against the tokens). The
hub is not reachable here, so this module writes those tables itself, each
op priced with skipsim's roofline (`profiler/roofline.py`: max(FLOPs / peak,
bytes / bandwidth) on the device's `DeviceSpec`) for the same model and
device. Times are in milliseconds, the medians of Vidur's `time_stats.*`.

Per op, T tokens, h = hidden, f = MLP width, q/kv = query/KV heads, d = head
dim, b = dtype bytes (shapes as `ModelSpec`; weights read once per batch,
each op reading its input and writing its output once, as the roofline):
QKV: P = h(q + 2kv)d; output: P = qd·h; gate+up: P = 2hf; down: P = fh;
FLOPs 2PT, bytes Pb + T(in + out)b. Element-wise ops are bandwidth-bound.
Attention: 4·q·d FLOPs per query-key pair, the K/V read and written
(`kv_bytes_per_token_per_layer`), as the roofline's attention op.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from profiler.roofline import RooflineCostModel
from skipsim.model_spec import model_spec

TP = 1  # one device: no tensor parallelism (Vidur filters the tables on it)
BLOCK_TOKENS = 16  # Vidur's KV block size (CacheConfig.block_size), filtered on too
TOKENS = sorted({*range(1, 33), *range(32, 8193, 32)})  # batch tokens profiled
KV_SIZES = list(range(0, 8193, 256))  # context lengths profiled
CHUNKS = list(range(32, 4097, 32))  # prefill chunk sizes profiled
DECODE_BATCH = list(range(1, 257))


class RooflineOps:
    """Per-op times [ms] of one decoder layer, priced by `RooflineCostModel`."""

    def __init__(self, model: str, device: str):
        self.cost = RooflineCostModel(model_spec(model), device)
        s = self.spec = self.cost.spec
        h, f, q, kv, d = (s.hidden_size, s.intermediate_size, s.num_heads, s.num_kv_heads,
                          s.head_dim)
        # op -> (params, activation elements read + written per token)
        self.linear = {"attn_pre_proj": (h * (q + 2 * kv) * d, h + (q + 2 * kv) * d),
                       "attn_post_proj": (q * d * h, q * d + h),
                       "mlp_up_proj": (2 * h * f, h + 2 * f),
                       "mlp_down_proj": (f * h, f + h)}
        self.elementwise = {"mlp_act": 3 * f, "input_layernorm": 2 * h,
                            "post_attention_layernorm": 2 * h, "attn_rope": 2 * (q + kv) * d,
                            "add": 3 * h}

    def _ms(self, flops: float, bytes_moved: float) -> np.ndarray:
        return np.maximum(flops / self.cost._peak, bytes_moved / self.cost._bw) * 1e3

    def token_ops(self, tokens: np.ndarray) -> dict[str, np.ndarray]:
        b, t = self.spec.dtype_bytes, np.asarray(tokens, float)
        out = {op: self._ms(2.0 * p * t, p * b + t * act * b)
               for op, (p, act) in self.linear.items()}
        out.update({op: self._ms(0.0, t * act * b) for op, act in self.elementwise.items()})
        out["attn_kv_cache_save"] = self._ms(0.0, 2 * t * self.spec.kv_bytes_per_token_per_layer)
        return out

    def prefill_attention(self, cached: np.ndarray, chunk: np.ndarray) -> np.ndarray:
        c, n = np.asarray(cached, float), np.asarray(chunk, float)
        pairs = n * c + n * (n + 1) / 2  # causal: BatchShape.prefill_attention_pairs
        kv = (c + 2 * n) * self.spec.kv_bytes_per_token_per_layer  # K/V read + new K/V written
        return self._ms(self.cost._attn_flops_per_pair * pairs, kv)

    def decode_attention(self, batch: np.ndarray, context: np.ndarray) -> np.ndarray:
        bsz, k = np.asarray(batch, float), np.asarray(context, float)
        kv = (bsz * k + bsz) * self.spec.kv_bytes_per_token_per_layer
        return self._ms(self.cost._attn_flops_per_pair * bsz * k, kv)


def write_profile(folder: Path, model: str, device: str) -> tuple[Path, Path, str]:
    """mlp.csv and attention.csv in `folder`; returns their paths and a digest
    of their contents (Vidur caches its trained predictors by config, not by
    data: the digest names a cache that a changed profile cannot reuse)."""
    import pandas as pd

    ops = RooflineOps(model, device)
    s = ops.spec
    shape = {"n_head": s.num_heads, "n_kv_head": s.num_kv_heads, "n_embd": s.hidden_size,
             "n_expanded_embd": s.intermediate_size, "use_gated_mlp": True,
             "vocab_size": s.vocab_size, "num_tensor_parallel_workers": TP}
    tokens = np.array(TOKENS)
    mlp = pd.DataFrame({**shape, "num_tokens": tokens})
    for op, ms in ops.token_ops(tokens).items():
        if op != "attn_kv_cache_save":
            mlp[f"time_stats.{op}.median"] = ms
    cached, chunk = (a.ravel() for a in np.meshgrid(KV_SIZES, CHUNKS, indexing="ij"))
    batch, context = (a.ravel() for a in np.meshgrid(DECODE_BATCH, KV_SIZES, indexing="ij"))
    context = np.maximum(context, 1)  # a decode token attends to itself at least
    prefill = pd.DataFrame({"batch_size": 1, "prefill_chunk_size": chunk, "kv_cache_size": cached,
                            "time_stats.attn_prefill.median": ops.prefill_attention(cached, chunk),
                            "time_stats.attn_decode.median": np.nan})
    decode = pd.DataFrame({"batch_size": batch, "prefill_chunk_size": 0, "kv_cache_size": context,
                           "time_stats.attn_prefill.median": np.nan,
                           "time_stats.attn_decode.median": ops.decode_attention(batch, context)})
    attention = pd.concat([prefill, decode], ignore_index=True)
    attention["time_stats.attn_kv_cache_save.median"] = ops.token_ops(
        np.maximum(attention["prefill_chunk_size"], attention["batch_size"]))["attn_kv_cache_save"]
    for key, value in {"n_embd": s.hidden_size, "n_q_head": s.num_heads,
                       "n_kv_head": s.num_kv_heads, "block_size": BLOCK_TOKENS,
                       "num_tensor_parallel_workers": TP}.items():
        attention[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "mlp.csv", folder / "attention.csv"
    mlp.to_csv(paths[0], index=False)
    attention.to_csv(paths[1], index=False)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:12]
    return *paths, digest
