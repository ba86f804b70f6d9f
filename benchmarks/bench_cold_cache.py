"""Warm against cold: the profiler's layer-side timings with and without the
caches a step leaves (`profiler.cold_cache`).

For a few shapes of the real model (the LM head at 1/4/16 tokens, a decode
layer at batch 1 and 8, a prefill of 64 tokens) this times the profiler's
own callables (`profiler.layer_profile.LayerBench`) in a tight loop (warm)
and after streaming each of `--evict-mb` sizes and the profiler's rule
(`step_evict_bytes`: the rest of the model), in interleaved rounds, one
torch thread, on the thread's CPU clock (as `simulate profile` times).

    nice -n 10 .venv/bin/python benchmarks/bench_cold_cache.py [--rounds 2] [--runner]

`--runner` also times the executor's own layers (`executor.model_runner`:
paged K/V gathered per layer, fused QKV) at the decode and prefill shapes,
cold: the profile times the Hugging Face layer, the executor runs these.
"""

from __future__ import annotations

import argparse

from profiler.timing import Clock, TimingConfig, measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--evict-mb", default="64,256", help="other sizes to stream (MB)")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--runner", action="store_true",
                        help="also the executor's ModelRunner layers, cold")
    args = parser.parse_args()
    import torch

    from profiler.cold_cache import CacheEvictor
    from profiler.layer_profile import LayerBench, evict_bytes
    from profiler.timing import set_threads
    from skipsim.model_loader import load_model

    set_threads(1)
    model, _ = load_model(args.model, "float32", "cpu")
    bench = LayerBench(model, "cpu", 0, 4)
    rule = evict_bytes(bench, "cpu")
    sizes = [int(float(x) * 1e6) for x in args.evict_mb.split(",") if x.strip()]
    evictor = CacheEvictor(max([*sizes, *rule.values()]), "cpu")
    clock, cfg = Clock("cpu", 1), TimingConfig(warmup=1, repeats=5)
    ops = {"logits T=1": ("logits", bench.logits(1)), "logits T=4": ("logits", bench.logits(4)),
           "logits T=16": ("logits", bench.logits(16)),
           "decode layer b=1 c=256": ("layer", bench.ops(1, 1, 256)["layer"]),
           "decode layer b=8 c=256": ("layer", bench.ops(8, 1, 256)["layer"]),
           "prefill layer n=64": ("layer", bench.ops(1, 64, 64)["layer"])}
    print("rule (rest of the model): " + ", ".join(f"{k} {v / 1e6:.0f} MB"
                                                    for k, v in rule.items()))
    per_layer = {"logits": 1.0, "layer": 1.0 / len(bench.layers)}
    if args.runner:
        ops.update(runner_ops(model, len(bench.layers)))
    with torch.inference_mode():
        for r in range(args.rounds):
            for name, (kind, fn) in ops.items():
                warm = measure(fn, clock, cfg).median_s
                cells = []
                for n in ([*sizes, rule[kind]] if not name.startswith("runner") else [rule[kind]]):
                    cold = measure(fn, clock, cfg, before=evictor.before(n)).median_s
                    cells.append(f"{n / 1e6:.0f} MB {cold * per_layer[kind] * 1e3:7.3f} ms "
                                 f"({cold / warm:.2f}x)")
                print(f"round {r} {name:<24} warm {warm * per_layer[kind] * 1e3:7.3f} ms; "
                      + "; ".join(cells), flush=True)


def runner_ops(model, layers: int) -> dict:
    """The executor's decode and prefill through its first `layers` layers,
    at the shapes above (pages allocated, K/V zeros: only shapes matter)."""
    import torch

    from executor.model_runner import ModelRunner

    runner = ModelRunner(model, num_pages=9 * 16 + 4, device="cpu", dtype=torch.float32)
    hidden = model.config.hidden_size
    gen = torch.Generator().manual_seed(0)
    ops, req = {}, 0
    for b in (1, 8):
        reqs = list(range(req, req + b))
        req += b
        for r in reqs:
            assert runner.allocate(r, 256)
        h = torch.randn(b, hidden, generator=gen)
        pos = torch.full((b,), 255)
        ops[f"runner decode b={b} c=256"] = ("layer", lambda h=h, reqs=reqs, pos=pos:
                                             runner.decode_layers(h, reqs, pos, 0, layers))
    assert runner.allocate(req, 64)
    h, ids = torch.randn(64, hidden, generator=gen), torch.zeros(64, dtype=torch.long)
    ops["runner prefill n=64"] = ("layer", lambda: runner.prefill_layers(
        [req], [ids], [0], 0, layers, h))
    return ops


if __name__ == "__main__":
    main()
