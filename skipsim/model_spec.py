"""Architecture numbers of a decoder-only transformer, and the models we know.

A `ModelSpec` is all a cost model or the KV cache needs to know about a model:
layer count, widths, heads, vocabulary, bytes per parameter. It is built from
a Hugging Face `config.json` (any Llama/Qwen-family folder) or taken from the
built-in table below, which also serves analytic what-ifs for models that are
never loaded here (Llama-3-8B/70B).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from skipsim.errors import UserError

GIB = 2**30  # bytes; every GiB figure in the project divides by this one


@dataclass(frozen=True)
class ModelSpec:
    name: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool = False
    dtype_bytes: int = 2
    max_context_tokens: int | None = None  # the context window (prompt + output); None: unknown

    def __post_init__(self):
        for field in ("num_layers", "hidden_size", "intermediate_size", "num_heads",
                      "num_kv_heads", "head_dim", "vocab_size", "dtype_bytes"):
            if getattr(self, field) <= 0:
                raise UserError(f"model {self.name!r}: {field} must be positive")
        if self.num_heads % self.num_kv_heads:
            raise UserError(f"model {self.name!r}: num_heads must be a multiple of num_kv_heads")

    # Parameter counts of a Llama-style layer (no biases): q,o are
    # hidden x heads*head_dim, k,v are hidden x kv_heads*head_dim, the gated
    # MLP has three hidden x intermediate matrices, plus two RMSNorm vectors.
    @property
    def attention_params(self) -> int:
        q_o = 2 * self.hidden_size * self.num_heads * self.head_dim
        k_v = 2 * self.hidden_size * self.num_kv_heads * self.head_dim
        return q_o + k_v

    @property
    def kv_projection_params(self) -> int:
        return 2 * self.hidden_size * self.num_kv_heads * self.head_dim

    @property
    def mlp_params(self) -> int:
        return 3 * self.hidden_size * self.intermediate_size

    @property
    def layer_params(self) -> int:
        return self.attention_params + self.mlp_params + 2 * self.hidden_size

    @property
    def total_params(self) -> int:
        embed = self.vocab_size * self.hidden_size
        head = 0 if self.tie_word_embeddings else embed
        return self.num_layers * self.layer_params + embed + head + self.hidden_size

    @property
    def weight_bytes(self) -> int:
        return self.total_params * self.dtype_bytes

    @property
    def kv_bytes_per_token_per_layer(self) -> int:
        """K and V of one token in one layer: 2 x kv_heads x head_dim x bytes."""
        return 2 * self.num_kv_heads * self.head_dim * self.dtype_bytes

    def with_dtype_bytes(self, dtype_bytes: int) -> ModelSpec:
        return replace(self, dtype_bytes=dtype_bytes)

    @classmethod
    def from_hf_config(cls, config: dict, name: str, dtype_bytes: int = 2) -> ModelSpec:
        try:
            heads = config["num_attention_heads"]
            hidden = config["hidden_size"]
            return cls(
                name=name,
                num_layers=config["num_hidden_layers"],
                hidden_size=hidden,
                intermediate_size=config["intermediate_size"],
                num_heads=heads,
                num_kv_heads=config.get("num_key_value_heads", heads),
                head_dim=config.get("head_dim") or hidden // heads,
                vocab_size=config["vocab_size"],
                tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
                dtype_bytes=dtype_bytes,
                max_context_tokens=config.get("max_position_embeddings"),
            )
        except KeyError as missing:
            raise UserError(f"model {name!r}: config.json lacks {missing}") from None


# Values from each model's published config.json (context windows: SmolLM2's
# and Llama 3's max_position_embeddings, 8192 (SmolLM2's also the GGUF's
# llama.context_length); Qwen2.5-1.5B's model card: "full 32,768 tokens").
BUILTIN_SPECS = {
    "smollm2": ModelSpec("SmolLM2-135M-Instruct", 30, 576, 1536, 9, 3, 64, 49152, True, 4, 8192),
    "qwen2.5-1.5b": ModelSpec("Qwen2.5-1.5B", 28, 1536, 8960, 12, 2, 128, 151936, True, 2,
                              32768),
    "llama-3-8b": ModelSpec("Llama-3-8B", 32, 4096, 14336, 32, 8, 128, 128256, False, 2, 8192),
    "llama-3-70b": ModelSpec("Llama-3-70B", 80, 8192, 28672, 64, 8, 128, 128256, False, 2,
                             8192),
}


def model_spec(name_or_path: str) -> ModelSpec:
    """A built-in spec by name, or one read from a local Hugging Face folder."""
    key = name_or_path.lower()
    if key in BUILTIN_SPECS:
        return BUILTIN_SPECS[key]
    path = Path(name_or_path)
    config = path / "config.json"
    if not config.is_file():
        known = ", ".join(sorted(BUILTIN_SPECS))
        raise UserError(f"unknown model {name_or_path!r}: use one of {known}, "
                        "or the path of a local Hugging Face model folder")
    try:
        data = json.loads(config.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{config}: not valid JSON ({err.msg})") from None
    dtype_bytes = {"float32": 4, "float16": 2, "bfloat16": 2}.get(
        str(data.get("torch_dtype") or data.get("dtype") or "bfloat16"), 2)
    return ModelSpec.from_hf_config(data, name=path.name, dtype_bytes=dtype_bytes)
