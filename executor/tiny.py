"""A small randomly initialised Llama (or Qwen3) for fast tests: no weights
to load, every code path of a real model (GQA, RoPE, SwiGLU, tied or untied
head). Parameters are drawn from a seeded `torch.Generator`, so a seed gives
the same model on every machine; norm weights are 1 + noise so that a wrong
norm weight shows in the outputs.
"""

from __future__ import annotations

import torch


def tiny_model(seed: int = 0, family: str = "llama", layers: int = 6, hidden: int = 64,
               heads: int = 4, kv_heads: int = 2, vocab: int = 96, intermediate: int = 128,
               max_positions: int = 512):
    """An eval-mode `LlamaForCausalLM` (`family="qwen3"`: Qwen3ForCausalLM)."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    common = dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=intermediate,
                  num_hidden_layers=layers, num_attention_heads=heads,
                  num_key_value_heads=kv_heads, max_position_embeddings=max_positions,
                  rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="sdpa")
    if family == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common))
    elif family == "qwen3":
        model = Qwen3ForCausalLM(Qwen3Config(head_dim=hidden // heads, **common))
    else:
        raise ValueError(f"unknown tiny family {family!r}")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))
    return model.eval()
