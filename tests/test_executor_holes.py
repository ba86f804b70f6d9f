"""KV holes on the tensors (tiny random Llama): which cache rows each policy
writes, that masked holes are never read by attention, and that repair
restores the rows the full model would have written."""

import pytest
import torch
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from executor.kv_store import HOLE, OWED
from policies.kv_hole import HoleFill
from tests.executor_helpers import decode, prefilled, runner, tokens

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOL = dict(atol=2e-5, rtol=1e-5)
LO, HI = 2, 5  # a token skips layers 2, 3, 4 of 6
PROMPTS = {0: tokens(10, 1), 1: tokens(20, 2)}
REQS, POS, TOKS = [0, 1], [10, 20], [7, 8]


def skip_step(r, fill, lo=LO, hi=HI):
    """Both requests decode one token that runs layers < lo, skips lo..hi-1
    (holes filled as `fill` says) and runs on from hi with the carried state."""
    h_lo = decode(r, REQS, TOKS, POS, 0, lo)
    r.fill_holes(fill, h_lo, REQS, torch.tensor(POS), lo, hi)
    r.check_integrity()
    h = r.decode_layers(h_lo, REQS, torch.tensor(POS), hi, r.num_layers)
    r.check_integrity()
    return h_lo, h


def slots(r):
    return torch.tensor(r.kv.slots(REQS, POS))


@pytest.mark.parametrize("fill", list(HoleFill))
def test_each_hole_fill_writes_exactly_its_rows(fill):
    r = runner()
    prefilled(r, PROMPTS)
    k0, v0 = r.kv.k_rows.clone(), r.kv.v_rows.clone()
    h_lo = decode(r, REQS, TOKS, POS, 0, LO)
    r.fill_holes(fill, h_lo, REQS, torch.tensor(POS), LO, HI)
    r.check_integrity()
    changed = (r.kv.k_rows != k0).flatten(2).any(-1) | (r.kv.v_rows != v0).flatten(2).any(-1)
    expect = torch.zeros_like(changed)
    s = slots(r)
    written = HI if fill in (HoleFill.PROJECT, HoleFill.COPY) else LO
    expect[:written, s] = True
    assert torch.equal(changed, expect)
    marks = torch.zeros_like(r.kv.state)
    if fill in (HoleFill.MASK, HoleFill.REPAIR_LATER):
        marks[LO:HI, s] = HOLE if fill is HoleFill.MASK else OWED
    assert torch.equal(r.kv.state, marks)
    assert r.owed_rows() == (2 * (HI - LO) if fill is HoleFill.REPAIR_LATER else 0)
    if fill is HoleFill.COPY:  # every skipped layer holds the departure layer's row
        for layer in range(LO, HI):
            assert torch.equal(r.kv.k_rows[layer, s], r.kv.k_rows[LO - 1, s])
            assert torch.equal(r.kv.v_rows[layer, s], r.kv.v_rows[LO - 1, s])


def test_project_rows_are_the_skipped_layers_own_kv_projections_of_the_carried_state():
    from executor.model_runner import ModelRunner
    from executor.tiny import tiny_model

    model = tiny_model()
    r = ModelRunner(model, 64)
    prefilled(r, PROMPTS)
    h_lo = decode(r, REQS, TOKS, POS, 0, LO)
    r.fill_holes(HoleFill.PROJECT, h_lo, REQS, torch.tensor(POS), LO, HI)
    s = slots(r)
    pos = torch.tensor(POS)[:, None]
    with torch.no_grad():  # HF's own modules: norm, k/v projections, rotary embedding
        for layer in range(LO, HI):
            lay = model.model.layers[layer]
            x = lay.input_layernorm(h_lo)[:, None]  # [B, 1, d]
            k = lay.self_attn.k_proj(x).view(2, 1, 2, 16).transpose(1, 2)
            v = lay.self_attn.v_proj(x).view(2, 1, 2, 16).transpose(1, 2)
            cos, sin = model.model.rotary_emb(x, pos)
            _, k = apply_rotary_pos_emb(k, k, cos, sin)
            torch.testing.assert_close(r.kv.k_rows[layer, s], k[:, :, 0], **TOL)
            torch.testing.assert_close(r.kv.v_rows[layer, s], v[:, :, 0], **TOL)


@pytest.mark.parametrize("fill", [HoleFill.MASK, HoleFill.REPAIR_LATER])
def test_masked_holes_are_never_read_by_attention(fill):
    clean, poisoned, control = runner(), runner(), runner()
    outs = {}
    for name, r in (("clean", clean), ("poisoned", poisoned), ("control", control)):
        prefilled(r, PROMPTS)
        skip_step(r, fill)
        s = slots(r)
        if name == "poisoned":  # huge finite values: any weight on them would show
            r.kv.k_rows[LO:HI, s] = 1e4
            r.kv.v_rows[LO:HI, s] = -1e4
        if name == "control":  # the same poison in a row attention does read
            r.kv.v_rows[LO - 1, s] = -1e4
        steps = []
        for step in range(3):
            pos = [p + 1 + step for p in POS]
            steps.append(r.decode_layers(r.embed(torch.tensor([3 + step, 4])), REQS,
                                         torch.tensor(pos), 0, r.num_layers))
            if name != "control":
                r.check_integrity()
        outs[name] = torch.stack(steps)
    assert torch.equal(outs["poisoned"], outs["clean"])
    assert not torch.allclose(outs["control"], outs["clean"], atol=1e-2)


def test_repair_restores_the_full_models_rows_and_later_tokens_see_them():
    full, skipping = runner(), runner()
    prefilled(full, PROMPTS), prefilled(skipping, PROMPTS)
    decode(full, REQS, TOKS, POS)
    h_lo, _ = skip_step(skipping, HoleFill.REPAIR_LATER)
    s = slots(skipping)
    assert skipping.owed_rows() == 2 * (HI - LO)
    skipping.repair(REQS, torch.tensor(POS), LO, HI, h_lo)
    skipping.check_integrity()
    assert skipping.owed_rows() == 0
    for store in ("k_rows", "v_rows"):
        got, want = getattr(skipping.kv, store), getattr(full.kv, store)
        torch.testing.assert_close(got[:HI, s], want[:HI, s], **TOL)  # run + repaired layers
        assert not torch.allclose(got[HI:, s], want[HI:, s], atol=1e-3)  # ran on the carried state
    # the next token's first HI layers read only full-model rows: it matches exactly
    nxt = [p + 1 for p in POS]
    torch.testing.assert_close(decode(skipping, REQS, [5, 6], nxt, 0, HI),
                               decode(full, REQS, [5, 6], nxt, 0, HI), **TOL)


def test_repair_after_later_tokens_leaves_their_rows_alone():
    r = runner()
    prefilled(r, PROMPTS)
    h_lo, _ = skip_step(r, HoleFill.REPAIR_LATER)
    later = [p + 1 for p in POS]
    decode(r, REQS, [5, 6], later)
    s_later = torch.tensor(r.kv.slots(REQS, later))
    k_later = r.kv.k_rows[:, s_later].clone()
    r.repair(REQS, torch.tensor(POS), LO, HI, h_lo)
    r.check_integrity()
    assert torch.equal(r.kv.k_rows[:, s_later], k_later)


def test_bad_hole_requests_are_refused():
    r = runner()
    prefilled(r, PROMPTS)
    h = r.embed(torch.tensor(TOKS))
    with pytest.raises(ValueError, match="lo must be > 0"):
        r.fill_holes(HoleFill.COPY, h, REQS, torch.tensor(POS), 0, 2)
    for name in ("zero", "copy"):  # a name, even a fill's, is not a HoleFill
        with pytest.raises(ValueError, match="unknown KV-hole fill"):
            r.fill_holes(name, h, REQS, torch.tensor(POS), 1, 2)


def test_one_batched_repair_of_consecutive_positions_restores_both():
    full, skipping = runner(), runner()
    prefilled(full, PROMPTS), prefilled(skipping, PROMPTS)
    carried = []
    for step in range(2):  # request 0 skips LO..HI-1 at positions 10 and 11
        pos = [10 + step]
        decode(full, [0], [7 + step], pos)
        h_lo = decode(skipping, [0], [7 + step], pos, 0, LO)
        skipping.fill_holes(HoleFill.REPAIR_LATER, h_lo, [0], torch.tensor(pos), LO, HI)
        skipping.decode_layers(h_lo, [0], torch.tensor(pos), HI, skipping.num_layers)
        carried.append(h_lo)
    skipping.repair([0, 0], torch.tensor([10, 11]), LO, HI, torch.cat(carried))
    skipping.check_integrity()
    s = torch.tensor(skipping.kv.slots([0, 0], [10, 11]))
    torch.testing.assert_close(skipping.kv.k_rows[:HI, s], full.kv.k_rows[:HI, s], **TOL)
    torch.testing.assert_close(skipping.kv.v_rows[:HI, s], full.kv.v_rows[:HI, s], **TOL)


def test_copying_a_masked_departure_row_keeps_the_copies_masked():
    r = runner()
    prefilled(r, PROMPTS)
    h = decode(r, REQS, TOKS, POS, 0, 1)
    r.fill_holes(HoleFill.MASK, h, REQS, torch.tensor(POS), 1, 3)  # chained: 1..2 then 3..4
    r.fill_holes(HoleFill.COPY, h, REQS, torch.tensor(POS), 3, 5)
    r.check_integrity()
    s = slots(r)
    assert (r.kv.state[1:5, s] == HOLE).all() and (r.kv.state[0, s] == 0).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("fill", list(HoleFill))
def test_hole_fills_on_cuda_match_the_cpu(fill):
    from executor.model_runner import ModelRunner
    from executor.tiny import tiny_model

    model = tiny_model(seed=4)
    cpu, gpu = ModelRunner(model, 64), ModelRunner(model, 64, device="cuda")
    outs = []
    for r in (cpu, gpu):
        prefilled(r, PROMPTS)
        h_lo, h = skip_step(r, fill)
        if fill is HoleFill.REPAIR_LATER:
            r.repair(REQS, torch.tensor(POS), LO, HI, h_lo)
            r.check_integrity()
        outs.append(r.logits(decode(r, REQS, [5, 6], [p + 1 for p in POS])).cpu())
    torch.testing.assert_close(outs[1], outs[0], atol=1e-4, rtol=1e-4)
