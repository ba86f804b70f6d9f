"""Model specs, and the real SmolLM2 (slow: loads weights)."""

import json

import pytest

from skipsim.errors import UserError
from skipsim.model_loader import model_dir
from skipsim.model_spec import BUILTIN_SPECS, model_spec


def test_smollm2_spec_counts_its_135m_parameters():
    spec = BUILTIN_SPECS["smollm2"]
    assert spec.total_params == pytest.approx(134.5e6, rel=0.01)
    # 2 (K,V) x 3 kv heads x 64 dims x 4 bytes (float32)
    assert spec.kv_bytes_per_token_per_layer == 1536


def test_llama3_8b_spec_counts_8b_parameters():
    assert BUILTIN_SPECS["llama-3-8b"].total_params == pytest.approx(8.03e9, rel=0.01)


def test_local_folder_spec_and_family_check(tmp_path):
    config = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
              "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
              "vocab_size": 100, "torch_dtype": "float32"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    spec = model_spec(str(tmp_path))
    assert spec.num_layers == 2 and spec.head_dim == 16 and spec.dtype_bytes == 4
    assert model_dir(str(tmp_path)) == tmp_path
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(UserError, match="not supported"):
        model_dir(str(tmp_path))


def test_unknown_model_is_a_user_error():
    with pytest.raises(UserError, match="unknown model"):
        model_spec("gpt-17")


@pytest.mark.slow
def test_real_smollm2_answers_a_short_prompt_greedily():
    import torch

    from skipsim.model_loader import load_model

    model, tok = load_model("smollm2")
    assert model.config.num_hidden_layers == BUILTIN_SPECS["smollm2"].num_layers
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids.shape[1]:])
