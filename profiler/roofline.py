"""The analytic roofline cost model: every op takes max(FLOPs / peak,
bytes / bandwidth) on a `DeviceSpec` (Williams, Waterman & Patterson,
"Roofline", CACM 2009).

Per decoder layer and block step (Llama-style layer, shapes from ModelSpec):
- linear op: 2·P·T FLOPs for P layer parameters and T batch tokens; bytes =
  the weights read once per batch (P·dtype) + activations, each of the seven
  projections reading its input and writing its output once;
- attention op: 4·heads·head_dim FLOPs per query-key pair (QKᵀ and PV);
  bytes = the K/V read (decode: every context token; prefill chunk: cached
  prefix + chunk, flash-attention style) + the new K/V written.
The LM head reads vocab·hidden weights once per batch; a flat bank lookup
scans entries·hidden float32 keys per batch (2 FLOPs per key element and
query). Fixed launch/call latencies come from the device table.
Labelled "analytic roofline: <device>" so it is never taken for a measurement.
"""

from __future__ import annotations

from functools import lru_cache

from profiler.cost_model import BatchShape, CostModel, register_cost_model
from profiler.devices import device_spec
from skipsim.model_spec import ModelSpec

BANK_KEY_BYTES = 4  # faiss stores float32 keys


@register_cost_model("roofline")
class RooflineCostModel(CostModel):
    name = "roofline"

    def __init__(self, spec: ModelSpec, device: str = "cpu"):
        self.spec = spec
        self.device = device_spec(device)
        self.label = f"analytic roofline: {self.device.name}"
        self._peak = self.device.peak_for(spec.dtype_bytes)
        self._bw = self.device.memory_bandwidth_bytes_per_s
        self._layer_params = spec.layer_params
        self._layer_weight_bytes = spec.layer_params * spec.dtype_bytes
        self._act_bytes_per_token = (4 * spec.hidden_size + 2 * spec.num_heads * spec.head_dim
                                     + 2 * spec.num_kv_heads * spec.head_dim
                                     + 4 * spec.intermediate_size) * spec.dtype_bytes
        self._attn_flops_per_pair = 4.0 * spec.num_heads * spec.head_dim
        # pure functions of a few integers, asked for the same arguments at
        # almost every simulator step: memoised per instance (same floats)
        for name in ("lm_head_time_s", "lookup_time_s", "kv_projection_time_s"):
            setattr(self, name, lru_cache(maxsize=1 << 16)(getattr(self, name)))

    def _op(self, flops: float, bytes_moved: float) -> float:
        return max(flops / self._peak, bytes_moved / self._bw)

    def block_time_s(self, num_layers: int, batch: BatchShape) -> float:
        s = self.spec
        chunks = batch.prefill_chunks
        prefill = sum(n for n, _ in chunks) if chunks else 0
        t = prefill + batch.decode_tokens
        if num_layers <= 0 or t == 0:
            return 0.0
        act = t * self._act_bytes_per_token
        linear = self._op(2.0 * self._layer_params * t, self._layer_weight_bytes + act)
        ctx_sum = batch.decode_context_sum
        pairs = ctx_sum + (batch.prefill_attention_pairs if chunks else 0)
        kv_read_tokens = ctx_sum + (sum(n + c for n, c in chunks) if chunks else 0)
        kv_bytes = (kv_read_tokens + t) * s.kv_bytes_per_token_per_layer
        attention = self._op(self._attn_flops_per_pair * pairs, kv_bytes)
        return num_layers * (linear + attention)

    def lm_head_time_s(self, num_tokens: int) -> float:
        s = self.spec
        if num_tokens == 0:
            return 0.0
        weights = s.vocab_size * s.hidden_size * s.dtype_bytes
        logits = num_tokens * s.vocab_size * 4
        return self._op(2.0 * s.vocab_size * s.hidden_size * num_tokens, weights + logits)

    def lookup_time_s(self, bank_entries: int, num_queries: int) -> float:
        if num_queries == 0:
            return 0.0
        h = self.spec.hidden_size
        flops = 2.0 * bank_entries * h * num_queries
        bytes_moved = (bank_entries + num_queries) * h * BANK_KEY_BYTES
        return self.device.lookup_overhead_s + self._op(flops, bytes_moved)

    def kv_projection_time_s(self, num_tokens: int, num_layers: int) -> float:
        s = self.spec
        if num_tokens == 0 or num_layers == 0:
            return 0.0
        p = s.kv_projection_params
        bytes_moved = p * s.dtype_bytes + num_tokens * (s.hidden_size * s.dtype_bytes
                                                        + s.kv_bytes_per_token_per_layer)
        return num_layers * self._op(2.0 * p * num_tokens, bytes_moved)

    def skip_action_time_s(self, num_tokens: int, macs_per_token: int) -> float:
        """A [n, d] x [d, d]-like product: 2 flops per multiply-add, the map's
        weights read once per step (as a layer's), the states in and out."""
        if num_tokens <= 0 or macs_per_token <= 0:
            return 0.0
        s = self.spec
        bytes_moved = (macs_per_token + 2 * num_tokens * s.hidden_size) * s.dtype_bytes
        return self._op(2.0 * macs_per_token * num_tokens, bytes_moved)

    @property
    def step_overhead_s(self) -> float:
        return self.device.step_overhead_s
