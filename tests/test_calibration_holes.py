"""Calibration's live runs fill KV holes as the shared policy objects say, on
a tiny randomly initialised Llama (no weights): which cache rows each fill
writes, and that a masked hole never reaches attention."""

import numpy as np
import pytest
import torch

from policies.kv_hole import HoleFill

LAYERS, B, T = 4, 2, 12


@pytest.fixture(scope="module")
def lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    from profiler.calibration.decoder import LayerwiseModel

    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                      num_hidden_layers=LAYERS, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=64)
    torch.manual_seed(0)
    return LayerwiseModel(LlamaForCausalLM(cfg).eval())


def prefilled(lm, holes=False):
    cache = lm.new_cache(B, T, holes=holes)
    with torch.no_grad():
        for b in range(B):
            lm.prefill(torch.arange(1, 7).view(1, 6) + b, cache, b)
    return cache


class Rec:  # the reference rows an ideal repair writes
    def __init__(self, k, v):
        self.k, self.v = k, v


@pytest.mark.parametrize("fill", list(HoleFill))
def test_each_fill_changes_only_the_holes_rows_as_declared(lm, fill):
    from profiler.calibration.live_eval import _fill_hole

    cache = prefilled(lm, holes=fill is HoleFill.MASK)
    cache.k[:2, 1, :, 6] = torch.randn(2, 2, 8)  # the new token ran layers 0 and 1
    before_k = cache.k.clone()
    slots, pos, layer = torch.tensor([1]), torch.tensor([6]), 2
    h = torch.randn(1, 1, 32)
    rope = lm.rope(h, pos.view(-1, 1))
    ref = [None, Rec(torch.full((LAYERS, 2, T, 8), 7.0), torch.full((LAYERS, 2, T, 8), 7.0))]
    with torch.no_grad():
        _fill_hole(lm, fill, layer, h, slots, pos, cache, rope, np.array([1]), ref)
    changed = (cache.k != before_k).any(-1).nonzero().tolist()  # [layer, b, head, position]
    if fill is HoleFill.MASK:
        assert changed == [] and cache.holes.nonzero().tolist() == [[2, 1, 6]]
        return
    assert {(layer, b, p) for layer, b, _, p in changed} == {(2, 1, 6)}  # that row, no other
    row = cache.k[2, 1, :, 6]
    if fill is HoleFill.PROJECT:
        torch.testing.assert_close(row, lm.kv(2, h, rope)[0][0, :, 0])
    elif fill is HoleFill.COPY:
        torch.testing.assert_close(row, cache.k[1, 1, :, 6])  # the departure layer's row
    else:
        assert torch.all(row == 7.0)


def test_a_masked_hole_never_reaches_attention(lm):
    out = []
    for garbage in (0.0, 1e3):
        cache = prefilled(lm, holes=True)
        cache.holes[1, 0, [2, 4]] = True
        cache.k[1, 0, :, [2, 4]] = garbage
        cache.v[1, 0, :, [2, 4]] = garbage
        h = torch.randn(B, 1, 32, generator=torch.Generator().manual_seed(1))
        pos = torch.tensor([6, 6])
        with torch.no_grad():
            out.append(lm.decode_layer(1, h, torch.arange(B), pos, cache,
                                       lm.rope(h, pos.view(-1, 1))))
    torch.testing.assert_close(out[0], out[1])  # what lies in the hole does not matter
    cache.holes[1, 0, [2, 4]] = False  # unmasked, the same garbage does
    with torch.no_grad():
        leaked = lm.decode_layer(1, h, torch.arange(B), pos, cache, lm.rope(h, pos.view(-1, 1)))
    assert not torch.allclose(leaked[0], out[1][0])
