"""The decoder-layer weights of a Hugging Face Llama/Qwen model, stacked by layer.

A Llama layer (Touvron et al. 2023; Qwen2/3 share it) is RMSNorm -> attention
with rotary positions (Su et al. 2021) and grouped KV heads -> residual ->
RMSNorm -> SwiGLU MLP (Shazeer 2020) -> residual. The runner needs the pieces
of every layer as plain tensors: Q, K and V projections fused into one matrix
(one matmul per layer), gate and up fused likewise, and every weight stacked
over layers so that a range of layers can be processed in one batched matmul
(the `project` KV-hole policy). Qwen2 adds biases to Q/K/V; Qwen3 adds an
RMSNorm on each head of Q and K before RoPE (`q_norm`, `k_norm`).

Shapes (L layers, d hidden, H query heads, Hkv KV heads, hd head dim,
I MLP width): qkv [L, (H + 2 Hkv) hd, d], o [L, d, H hd], gate_up [L, 2I, d],
down [L, d, I], norms [L, d] (q_norm/k_norm [L, hd]).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.activations import ACT2FN


@dataclass
class StackedWeights:
    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    scaling: float
    act: object  # the MLP activation (SiLU for every supported family)
    in_norm: torch.Tensor
    qkv: torch.Tensor
    qkv_bias: torch.Tensor | None
    q_norm: torch.Tensor | None
    k_norm: torch.Tensor | None
    o: torch.Tensor
    o_bias: torch.Tensor | None
    post_norm: torch.Tensor
    gate_up: torch.Tensor
    gate_up_bias: torch.Tensor | None
    down: torch.Tensor
    down_bias: torch.Tensor | None
    embed: torch.Tensor  # [V, d]
    final_norm: torch.Tensor  # [d]
    lm_head: torch.Tensor  # [V, d]

    @property
    def q_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim


def stack_weights(model, device, dtype) -> StackedWeights:
    """Copies (cast to `dtype` on `device`) of `model`'s weights, stacked by layer."""
    cfg = model.config
    layers = model.model.layers
    attn0 = layers[0].self_attn
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads

    def stack(get, cat=None):
        parts = []
        for lay in layers:
            got = get(lay)
            if cat is not None:
                if any(t is None for t in got):
                    return None
                got = torch.cat(got, 0)
            elif got is None:
                return None
            parts.append(got.detach())
        return torch.stack(parts).to(device=device, dtype=dtype).contiguous()

    def bias(lin):
        return lin.bias

    qn = getattr(attn0, "q_norm", None)
    return StackedWeights(
        heads=cfg.num_attention_heads,
        kv_heads=cfg.num_key_value_heads,
        head_dim=head_dim,
        eps=float(cfg.rms_norm_eps),
        scaling=float(getattr(attn0, "scaling", head_dim ** -0.5)),
        act=ACT2FN[cfg.hidden_act],
        in_norm=stack(lambda layer: layer.input_layernorm.weight),
        qkv=stack(lambda layer: (layer.self_attn.q_proj.weight, layer.self_attn.k_proj.weight,
                                 layer.self_attn.v_proj.weight), cat=True),
        qkv_bias=stack(lambda layer: (bias(layer.self_attn.q_proj),
                                      bias(layer.self_attn.k_proj),
                                      bias(layer.self_attn.v_proj)), cat=True),
        q_norm=stack(lambda layer: layer.self_attn.q_norm.weight) if qn is not None else None,
        k_norm=stack(lambda layer: layer.self_attn.k_norm.weight) if qn is not None else None,
        o=stack(lambda layer: layer.self_attn.o_proj.weight),
        o_bias=stack(lambda layer: bias(layer.self_attn.o_proj)),
        post_norm=stack(lambda layer: layer.post_attention_layernorm.weight),
        gate_up=stack(lambda layer: (layer.mlp.gate_proj.weight, layer.mlp.up_proj.weight),
                      cat=True),
        gate_up_bias=stack(lambda layer: (bias(layer.mlp.gate_proj), bias(layer.mlp.up_proj)),
                           cat=True),
        down=stack(lambda layer: layer.mlp.down_proj.weight),
        down_bias=stack(lambda layer: bias(layer.mlp.down_proj)),
        embed=model.model.embed_tokens.weight.detach().to(device=device, dtype=dtype),
        final_norm=model.model.norm.weight.detach().to(device=device, dtype=dtype),
        lm_head=model.lm_head.weight.detach().to(device=device, dtype=dtype),
    )


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm (Zhang & Sennrich 2019) as HF's LlamaRMSNorm computes it:
    in float32, then cast back before the weight (in float32 torch's fused
    kernel gives the same bits, one call instead of six)."""
    if x.dtype == torch.float32 and weight.dim() == 1:
        return F.rms_norm(x, weight.shape, weight, eps)
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return weight * xf.to(x.dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of x [..., hd] (HF's rotate_half convention:
    the two halves of the head dim are the pair's coordinates)."""
    half = x.shape[-1] // 2
    rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rot * sin


class RopeTable:
    """cos/sin of every position, computed as HF's rotary embedding does
    (inv_freq from the model's rotary module, float32, attention_scaling)
    and cached, so a step looks its positions up instead of recomputing."""

    def __init__(self, model, device, dtype):
        rot = model.model.rotary_emb
        self.inv_freq = rot.inv_freq.detach().float().to(device)
        self.scaling = float(getattr(rot, "attention_scaling", 1.0))
        self.dtype = dtype
        self.cos = self.sin = torch.empty(0, 2 * len(self.inv_freq), device=device, dtype=dtype)

    def __call__(self, positions: torch.Tensor, max_pos: int | None = None):
        """(cos, sin) [N, hd] of positions [N] (`max_pos`, their maximum when
        the caller knows it, saves a device sync)."""
        if max_pos is None:
            max_pos = int(positions.max()) if positions.numel() else -1
        need = max_pos + 1
        if need > len(self.cos):
            n = max(need, 2 * len(self.cos), 1024)
            pos = torch.arange(n, device=self.inv_freq.device, dtype=torch.float32)
            freqs = pos[:, None] * self.inv_freq[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            self.cos = (emb.cos() * self.scaling).to(self.dtype)
            self.sin = (emb.sin() * self.scaling).to(self.dtype)
        return self.cos[positions], self.sin[positions]
