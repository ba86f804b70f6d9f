"""Counterfactual labels: batched (`label_prompt`) against one run per
(token, checkpoint, landing) (`label_token_by_token`) on SmolLM2.

Prints the CPU time of each (the thread's CPU clock, so other jobs on a
shared machine do not inflate it; one torch thread) for the same prompts,
the speed-up, and checks that the labels are identical.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_counterfactual.py \
        --prompts 2 --new-tokens 16
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    from policies.checkpoint_plan import CheckpointPlan
    from profiler.calibration.config import DEFAULT_CHECKPOINTS
    from profiler.calibration.counterfactual import label_prompt, label_token_by_token
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.prompts import split_prompts
    from profiler.calibration.recording import record_greedy
    from skipsim.model_loader import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--max-prompt-tokens", type=int, default=128)
    ap.add_argument("--max-skip-blocks", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_model("smollm2")
    lm = LayerwiseModel(model)
    plan = CheckpointPlan.parse(DEFAULT_CHECKPOINTS, lm.num_layers)
    split = split_prompts(tok, args.prompts, 0, args.max_prompt_tokens, seed=0)
    with torch.no_grad():
        recs = record_greedy(lm, split.calibration, args.new_tokens)
    tokens = sum(r.num_decode for r in recs)
    t0 = time.thread_time()
    batched = [label_prompt(lm, r, plan, args.max_skip_blocks) for r in recs]
    t_batched = time.thread_time() - t0
    t0 = time.thread_time()
    alone = [label_token_by_token(lm, r, plan, args.max_skip_blocks) for r in recs]
    t_alone = time.thread_time() - t0
    same = all(torch.equal(b.safe[i], a[i]) for b, a in zip(batched, alone) for i in a)
    print(f"{len(recs)} prompts, {tokens} decode tokens, plan {DEFAULT_CHECKPOINTS}, "
          f"max skip {args.max_skip_blocks} blocks")
    print(f"batched:        {t_batched:8.2f} s CPU  ({1e3 * t_batched / tokens:.1f} ms/token)")
    print(f"token by token: {t_alone:8.2f} s CPU  ({1e3 * t_alone / tokens:.1f} ms/token)")
    print(f"speed-up {t_alone / t_batched:.1f}x, labels identical: {same}")


if __name__ == "__main__":
    main()
