"""Executor speed: no-skip tokens/s against HF `generate`, and per-step time
against the cost model's price of the same batch.

1. Throughput: the same ShareGPT prompts (cut to --max-prompt tokens) and
   output lengths (the trace's, capped at --max-output; EOS ignored) through
   (a) HF transformers `generate`, greedy, one static left-padded batch, and
   (b) the runner's continuous-batching greedy loop (`executor/greedy.py`).
   Output tokens/s counts requested tokens only; the ratio (b)/(a) must be >= 1.
   The two alternate for --rounds rounds and each keeps its fastest, so that
   load from other processes on a shared machine hits both alike.
2. Overhead: wall time of one `decode_layers` pass over all layers at batch
   1, 8, 32 (every request at --context tokens), and of the whole step (embed
   + layers + LM head), against the cost model `simulate run` uses for the
   model on this device (`block_time_s`, plus `lm_head_time_s` and
   `step_overhead_s` for the step): the overhead the profile does not see.
   `matmul ms` is the floor measured beside it: the same batch through the
   layers' weight matmuls alone (Q/K/V, O, gate/up, down), which separates
   the runner's own overhead from a slower (or busier) machine than the
   profile's.

Both sides use the same torch thread count (--threads, default 1 as the
committed CPU profile).

    .venv/bin/python benchmarks/bench_executor.py [--num-prompts 16] [--max-prompt 256]
        [--max-output 64] [--threads 1] [--device cpu] [--context 256] [--skip-generate]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from executor.devices import configure_device, device_label
from executor.greedy import greedy_generate, hf_generate_ignoring_eos
from executor.model_runner import ModelRunner
from profiler.cost_model import BatchShape
from simulator.components import build_cost_model
from skipsim.model_loader import load_model
from skipsim.model_spec import model_spec
from traces.loaders import TraceConfig, load_trace


def workload(tok, args):
    trace = load_trace("sharegpt", TraceConfig(num_prompts=args.num_prompts, seed=args.seed,
                                               request_rate_per_s=math.inf))
    prompts = [tok(text).input_ids[:args.max_prompt] for text in trace.prompt_text]
    outputs = [min(int(n), args.max_output) for n in trace.output_tokens]
    return prompts, outputs


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def hf_generate(model, tok, prompts, outputs, device):
    width = max(map(len, prompts))
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    sync(device)
    start = time.perf_counter()
    out = hf_generate_ignoring_eos(model, ids, mask, max(outputs), pad)
    sync(device)
    wall = time.perf_counter() - start
    return wall, [out[i, width:width + n].tolist() for i, n in enumerate(outputs)]


def runner_generate(model, prompts, outputs, device, dtype):
    pages = sum(-(-(len(p) + n) // 16) for p, n in zip(prompts, outputs)) + 1
    runner = ModelRunner(model, pages, device=device, dtype=dtype)
    sync(device)
    start = time.perf_counter()
    got = greedy_generate(runner, prompts, outputs, max_batch=len(prompts))
    sync(device)
    return time.perf_counter() - start, got


def step_times(model, device, dtype, batch: int, context: int, repeats: int):
    """Median seconds of decode_layers over all layers, and of a whole step."""
    runner = ModelRunner(model, batch * (-(-(context + 1) // 16)), device=device, dtype=dtype)
    reqs = list(range(batch))
    for r in reqs:
        assert runner.allocate(r, context + 1)
    positions = torch.full((batch,), context)
    toks = torch.zeros(batch, dtype=torch.long)
    h = runner.embed(toks)
    layers, steps = [], []
    for i in range(repeats + 2):  # two warm-up passes
        sync(device)
        t0 = time.perf_counter()
        runner.decode_layers(h, reqs, positions, 0, runner.num_layers)
        sync(device)
        t1 = time.perf_counter()
        runner.logits(runner.decode_layers(runner.embed(toks), reqs, positions, 0,
                                           runner.num_layers)).argmax(-1).tolist()
        sync(device)
        t2 = time.perf_counter()
        if i >= 2:
            layers.append(t1 - t0)
            steps.append(t2 - t1)
    return statistics.median(layers), statistics.median(steps), matmul_floor(runner, batch, repeats)


def matmul_floor(runner, batch: int, repeats: int) -> float:
    w = runner.w
    x = torch.randn(batch, runner.hidden_size, device=runner.device, dtype=runner.dtype)
    inner = torch.randn(batch, w.down.shape[2], device=runner.device, dtype=runner.dtype)
    attn = torch.randn(batch, w.q_width, device=runner.device, dtype=runner.dtype)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 2):
            sync(runner.device)
            t0 = time.perf_counter()
            for layer in range(runner.num_layers):
                torch.nn.functional.linear(x, w.qkv[layer])
                torch.nn.functional.linear(attn, w.o[layer])
                torch.nn.functional.linear(x, w.gate_up[layer])
                torch.nn.functional.linear(inner, w.down[layer])
            sync(runner.device)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--num-prompts", type=int, default=16)
    parser.add_argument("--max-prompt", type=int, default=256)
    parser.add_argument("--max-output", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-generate", action="store_true", help="only the per-step part")
    args = parser.parse_args()
    device = configure_device(args.device, args.threads)
    dtype = getattr(torch, args.dtype)
    model, tok = load_model(args.model, dtype=args.dtype, device=args.device)
    print(f"model {args.model} {args.dtype} on {device_label(args.device, args.threads)}")

    if not args.skip_generate:
        prompts, outputs = workload(tok, args)
        tokens = sum(outputs)
        print(f"workload: {len(prompts)} ShareGPT prompts (seed {args.seed}), prompt tokens "
              f"{sum(map(len, prompts))} (max {max(map(len, prompts))}), output tokens {tokens} "
              f"(max {max(outputs)})")
        hf_s = ex_s = math.inf
        for _ in range(args.rounds):
            wall, hf_out = hf_generate(model, tok, prompts, outputs, device)
            hf_s = min(hf_s, wall)
            wall, ex_out = runner_generate(model, prompts, outputs, device, dtype)
            ex_s = min(ex_s, wall)
        same = sum(a == b for x, y in zip(hf_out, ex_out) for a, b in zip(x, y)) / tokens
        print(f"fastest of {args.rounds} alternating rounds each")
        print(f"HF generate (static padded batch of {len(prompts)}): {hf_s:7.2f} s  "
              f"{tokens / hf_s:8.1f} output tok/s")
        print(f"executor (continuous batching, max batch {len(prompts)}): {ex_s:7.2f} s  "
              f"{tokens / ex_s:8.1f} output tok/s")
        print(f"ratio executor / HF generate: {hf_s / ex_s:.2f}x  (target >= 1)   "
              f"identical tokens: {same:.1%}")

    cost = build_cost_model("auto", model_spec(args.model), args.device)
    print(f"\nper step, every request at context {args.context}; cost model: {cost.label}")
    print(f"{'batch':>5} {'layers ms':>10} {'price ms':>9} {'ratio':>6} {'step ms':>8} "
          f"{'price ms':>9} {'ratio':>6} {'matmul ms':>10} {'layers/matmul':>14}")
    for b in (int(x) for x in args.batches.split(",")):
        layers_s, step_s, floor_s = step_times(model, device, dtype, b, args.context, args.repeats)
        shape = BatchShape(decode_context_lens=(args.context + 1,) * b)
        price = cost.block_time_s(model.config.num_hidden_layers, shape)
        price_step = price + cost.lm_head_time_s(b) + cost.step_overhead_s
        print(f"{b:5d} {layers_s * 1e3:10.2f} {price * 1e3:9.2f} {layers_s / price:6.2f} "
              f"{step_s * 1e3:8.2f} {price_step * 1e3:9.2f} {step_s / price_step:6.2f} "
              f"{floor_s * 1e3:10.2f} {layers_s / floor_s:14.2f}")


if __name__ == "__main__":
    main()
