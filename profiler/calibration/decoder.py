"""A per-layer decode loop over a Hugging Face Llama model with an explicit KV cache.

HF's `generate` runs all layers of all tokens; semantic skipping needs to stop a
token at a checkpoint, carry its hidden state past some layers, and fill the KV
rows of the layers it skipped. `LayerwiseModel` exposes the pieces of one
decoder layer (Llama: RMSNorm -> attention with RoPE and grouped KV heads ->
residual -> RMSNorm -> SwiGLU MLP -> residual; Touvron et al. 2023) on the HF
weights, and `KVCache` holds K/V per layer for a batch of sequences padded to
a common length. With no skips the loop reproduces HF greedy decoding
(tests/test_calibration_model.py::test_layerwise_decoding_reproduces_hf_generate, slow).

Shapes: h [B, T, d] hidden states; q [B, H, T, hd]; k, v [B, Hkv, T, hd].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class KVCache:
    """K/V of every layer for B sequences; `length[b]` positions are filled.
    With `holes`, holes[layer, b, p] marks rows attention must not read (the
    `none` KV-hole policy)."""

    def __init__(self, num_layers: int, batch: int, kv_heads: int, max_len: int,
                 head_dim: int, dtype=torch.float32, holes: bool = False):
        shape = (num_layers, batch, kv_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype)
        self.v = torch.zeros(shape, dtype=dtype)
        self.length = torch.zeros(batch, dtype=torch.long)
        self.holes = torch.zeros(shape[:2] + (max_len,), dtype=torch.bool) if holes else None

    @property
    def max_len(self) -> int:
        return self.k.shape[3]

    def check_integrity(self) -> None:
        assert int(self.length.max()) <= self.max_len, "a sequence overran the cache"
        for b, n in enumerate(self.length.tolist()):
            assert torch.isfinite(self.k[:, b, :, :n]).all(), f"non-finite K in sequence {b}"
            assert torch.isfinite(self.v[:, b, :, :n]).all(), f"non-finite V in sequence {b}"


class LayerwiseModel:
    """The layers of a HF LlamaForCausalLM, callable one at a time."""

    def __init__(self, model):
        # imported here, once a model exists: importing this module loads no transformers
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

        self.apply_rope = apply_rotary_pos_emb
        cfg = model.config
        self.model = model
        self.layers = model.model.layers
        self.num_layers = cfg.num_hidden_layers
        self.hidden = cfg.hidden_size
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eos_ids = _as_set(cfg.eos_token_id)

    def new_cache(self, batch: int, max_len: int, holes: bool = False) -> KVCache:
        return KVCache(self.num_layers, batch, self.kv_heads, max_len, self.head_dim,
                       holes=holes)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.model.embed_tokens(ids)

    def rope(self, h: torch.Tensor, positions: torch.Tensor):
        return self.model.model.rotary_emb(h, positions)

    def qkv(self, layer: int, h: torch.Tensor, rope, with_q: bool = True):
        """(q, k, v) of the new tokens, RoPE applied; q is None when not asked for."""
        attn = self.layers[layer].self_attn
        x = self.layers[layer].input_layernorm(h)
        B, T, _ = h.shape
        k = attn.k_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        v = attn.v_proj(x).view(B, T, self.kv_heads, self.head_dim).transpose(1, 2)
        q = attn.q_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2) if with_q else k
        q, k = self.apply_rope(q, k, *rope)
        return (q if with_q else None), k, v

    def kv(self, layer: int, h: torch.Tensor, rope):
        """Only the K/V projections (the `project` KV-hole policy)."""
        return self.qkv(layer, h, rope, with_q=False)[1:]

    def finish(self, layer: int, h, q, keys, values, mask):
        """Attention of q over (keys, values) under boolean `mask` [B,1,Tq,Tk],
        then the output projection, residual and MLP."""
        # grouped-query attention: query head h reads KV head h // (H / Hkv), as HF's repeat_kv
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=True)
        B, _, T, _ = q.shape
        lay = self.layers[layer]
        h = h + lay.self_attn.o_proj(out.transpose(1, 2).reshape(B, T, -1))
        return h + lay.mlp(lay.post_attention_layernorm(h))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.model.lm_head(self.model.model.norm(h))

    # -- whole steps -----------------------------------------------------
    def prefill(self, ids: torch.Tensor, cache: KVCache, b: int, record=None) -> torch.Tensor:
        """Full-depth prefill of one sequence into slot b; returns h_L [1, P, d].
        `record(layer, h)` sees the input of every layer and the final state."""
        P = ids.shape[-1]
        positions = torch.arange(P).unsqueeze(0)
        h = self.embed(ids.view(1, P))
        rope = self.rope(h, positions)
        causal = torch.ones(P, P, dtype=torch.bool).tril().view(1, 1, P, P)
        for layer in range(self.num_layers):
            if record:
                record(layer, h)
            q, k, v = self.qkv(layer, h, rope)
            cache.k[layer, b, :, :P] = k[0]
            cache.v[layer, b, :, :P] = v[0]
            h = self.finish(layer, h, q, k, v, causal)
        if record:
            record(self.num_layers, h)
        cache.length[b] = P
        return h

    def decode_layer(self, layer: int, h, slots, positions, cache: KVCache, rope):
        """One layer for one new token of each sequence in `slots` (h [n,1,d]),
        writing its K/V at `positions` and attending to everything before
        (but the cache's holes)."""
        q, k, v = self.qkv(layer, h, rope)
        cache.k[layer, slots, :, positions] = k[:, :, 0]
        cache.v[layer, slots, :, positions] = v[:, :, 0]
        span = int(positions.max()) + 1
        mask = torch.arange(span).view(1, span) <= positions.view(-1, 1)
        if cache.holes is not None:
            mask = mask & ~cache.holes[layer, slots, :span]
        mask = mask.view(-1, 1, 1, span)
        return self.finish(layer, h, q, cache.k[layer, slots, :, :span],
                           cache.v[layer, slots, :, :span], mask)


def _as_set(x) -> set[int]:
    if x is None:
        return set()
    return set(x) if isinstance(x, (list, tuple)) else {int(x)}
