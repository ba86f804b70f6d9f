"""Peak memory of the calibration study's whole-bank stages, on cached recordings.

Loads the first `--prompts` calibration prompts of the 512x16 study (the
chunk cache; recorded first if cold) and measures, for each stage that
touches every calibration token at once, the growth of the process's
resident set above what it held before the stage (sampled every 20 ms):
`block_influence` (the static baseline), `step_confidences` (the LM head on
every recorded last-layer state), `build_examples` (the banks of every
checkpoint) and `fit_shortcuts` (the learned block shortcuts). The
figures scale with the number of calibration tokens; run it at two sizes
to see the slope.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_calibration_memory.py --prompts 128
"""

from __future__ import annotations

import argparse
import threading
import time


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measured(fn):
    """(result, peak RSS growth in bytes, CPU seconds) of fn()."""
    import gc

    gc.collect()
    base, peak, stop = rss_bytes(), [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    c0 = time.process_time()
    out = fn()
    cpu = time.process_time() - c0
    stop.set()
    t.join()
    return out, max(peak[0], rss_bytes()) - base, cpu


def main() -> None:
    import torch

    from profiler.calibration.banks import build_examples, step_confidences
    from profiler.calibration.chunks import recorded_chunks
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.pipeline import resolve_plan
    from profiler.calibration.prompts import split_prompts
    from profiler.calibration.shortcuts import fit_shortcuts
    from profiler.calibration.static_baseline import block_influence
    from skipsim.model_loader import load_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=128, help="calibration prompts (of 512)")
    ap.add_argument("--stages",
                    default="block_influence,step_confidences,build_examples,fit_shortcuts")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, tok = load_model("smollm2")
    lm = LayerwiseModel(model)
    plan = resolve_plan("8,2,2,2,2,2,2,2,2,2,2,2", lm.num_layers)
    # the study's split and chunk keys (profiler/profiles/README.md, smollm2-study-512x16)
    split = split_prompts(tok, 512, 16, 128, seed=0, held_out_from=600)
    recs, labels, _ = recorded_chunks(lm, "smollm2", split.calibration[:args.prompts], plan, 64,
                                      2, kv_prompts=48)
    tokens = sum(r.num_decode for r in recs)
    print(f"{len(recs)} calibration prompts, {tokens} decode tokens, "
          f"resident {rss_bytes() / 1e9:.2f} GB after loading")
    conf = []
    stages = {"block_influence": lambda: block_influence(recs),
              "step_confidences": lambda: conf.extend(step_confidences(lm, recs)),
              "build_examples": lambda: build_examples(plan, recs, labels,
                                                       conf or step_confidences(lm, recs)),
              "fit_shortcuts": lambda: fit_shortcuts(plan, recs, 2)}
    for name in args.stages.split(","):
        out, grew, cpu = measured(stages[name])
        del out
        print(f"{name:16s} peak +{grew / 1e9:6.2f} GB  ({grew / tokens / 1e3:6.1f} kB/token), "
              f"{cpu:6.1f} s CPU")


if __name__ == "__main__":
    main()
