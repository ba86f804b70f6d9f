"""The calibration chunk cache: `--record-only` fills it without holding what it records."""

import torch

from policies.checkpoint_plan import CheckpointPlan
from tests.test_counterfactual_batched import tiny_llama


def test_record_only_fills_the_cache_and_keeps_nothing_then_a_run_reads_it_back(
        tmp_path, monkeypatch):
    from profiler.calibration.chunks import CHUNK_PROMPTS, recorded_chunks
    from profiler.calibration.decoder import LayerwiseModel

    monkeypatch.setenv("SKIPSIM_CACHE", str(tmp_path))
    lm = LayerwiseModel(tiny_llama())
    plan = CheckpointPlan.parse("2,1,1,1,1", 6)
    gen = torch.Generator().manual_seed(3)
    prompts = [torch.randint(0, 97, (5 + n % 4,), generator=gen).tolist()
               for n in range(CHUNK_PROMPTS + 3)]   # two chunks, the second partial
    args = (lm, "tiny", prompts, plan, 5, 2)
    recs, labels, spent = recorded_chunks(*args, kv_prompts=1, keep=False)
    assert (recs, labels) == ([], []) and spent > 0
    chunks = sorted((tmp_path / "calibration" / "chunks").glob("*.pt"))
    assert len(chunks) == 2 and not list(tmp_path.rglob("*.claim"))

    recs, labels, spent = recorded_chunks(*args, kv_prompts=1)
    assert spent == 0.0   # all read back, nothing recomputed
    assert [r.prompt_ids for r in recs] == prompts and len(labels) == len(prompts)
    assert recs[0].k.shape[2] > 0 and recs[-1].k.shape[2] == 0   # first chunk keeps K/V
    # a record-only pass over cached chunks neither loads nor recomputes them
    assert recorded_chunks(*args, kv_prompts=1, keep=False) == ([], [], 0.0)
