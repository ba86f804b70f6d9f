"""Simulator speed and memory: ShareGPT requests through `simulate`, 6 blocks.

Targets (issue 15, one core of the reference machine, 2 vCPUs Zen 3):
the stress case (--skip-rates 0.15) <= 1.5 s, the default case <= 0.7 s
(10,000 requests at t = 0), and 1,000,000 requests <= 3 min with peak
RSS <= 2 GiB. Prints wall time, CPU time, steps/s, token-block steps/s
(token x block executions per second) and the process's peak RSS.

    .venv/bin/python benchmarks/bench_simulator.py [--num-prompts N] [--policy P]
        [--skip-rates 0.15]   # parametric skipping instead of the measured profile

Up to `SATURATION_MAX` requests all arrive at t = 0 (the saturation case,
the first N of ShareGPT's seeded order). Past that the trace is a long one:
ShareGPT has ~17k usable conversations, so the lengths are sampled *with
replacement* from the recovered set, and Poisson arrivals come at
`--load` x the saturation capacity (just under what the system sustains,
so the queue stays bounded and memory measures the engine, not a backlog).

The default configuration is `simulate`'s (measured skip model), priced by
the committed reference profile (`--cost-model`, default the AMD EPYC
`cpu-smollm2.csv`) rather than `auto`: `auto` picks the profile of the CPU it
runs on, which would change the simulated workload (its steps and batches)
from machine to machine and make figures from two machines incomparable.

With --skip-rates the parametric model skips far more often, which splits
batches into many more, smaller steps: the harder case.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

from profiler.committed import default_profile
from simulator.config import SimConfig
from simulator.metrics import summarize
from simulator.record_sink import ParquetStream
from simulator.run import estimate_capacity, simulate
from simulator.token_queue import TokenQueue
from skipsim.model_spec import model_spec
from traces.loaders import TraceConfig, load_trace
from traces.resampled import join_chunks, resampled_chunks
from traces.sharegpt import is_valid_pair, load_pairs_with_lengths
from traces.trace import Trace

SATURATION_MAX = 10_000  # up to here: the saturation case, every request at t = 0


def long_trace(n: int, cfg: SimConfig, load: float, seed: int = 0) -> tuple[Trace, str]:
    """n requests, lengths drawn with replacement from every usable ShareGPT
    pair, Poisson arrivals at `load` x the saturation capacity, generated in
    chunks (`traces/resampled.py`)."""
    df, _ = load_pairs_with_lengths()
    prompt, output = df["prompt_tokens"].to_numpy(), df["output_tokens"].to_numpy()
    del df  # the conversations' texts are not needed past here
    usable = is_valid_pair(prompt, output)  # vLLM's length filters, as the loader applies
    prompt, output = prompt[usable], output[usable]
    head = min(n, 300)  # the saturation probe: estimate_capacity's first 300 at t = 0
    first = next(resampled_chunks(prompt, output, head, math.inf, seed))
    capacity = estimate_capacity(first, cfg)
    rate = load * capacity
    trace = join_chunks(resampled_chunks(prompt, output, n, rate, seed), n)
    return trace, (f"lengths sampled with replacement from {len(prompt):,} usable ShareGPT "
                   f"pairs; Poisson arrivals at {rate:.2f} req/s = {load:g} x the saturation "
                   f"capacity {capacity:.2f} req/s")


def peak_rss_bytes() -> int:
    """This process's peak resident set (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-prompts", type=int, default=10_000)
    parser.add_argument("--policy", default="deepest-first")
    parser.add_argument("--checkpoints", default="5,5,5,5,5,5")
    parser.add_argument("--skip-rates", default=None,
                        help="parametric hit rate per checkpoint (default: the measured model)")
    parser.add_argument("--cost-model", default=str(default_profile()),
                        help="what prices the steps (default: the committed reference profile)")
    parser.add_argument("--load", type=float, default=0.9,
                        help=f"past {SATURATION_MAX:,} requests: arrival rate as a share of "
                             "the saturation capacity")
    args = parser.parse_args()
    skip = ({"skip_model": "parametric", "skip_options": {"hit_rates": args.skip_rates}}
            if args.skip_rates else {})
    cfg = SimConfig(policy=args.policy, checkpoints=args.checkpoints,
                    cost_model=args.cost_model, **skip)
    if args.num_prompts <= SATURATION_MAX:
        trace = load_trace("sharegpt", TraceConfig(num_prompts=args.num_prompts,
                                                   request_rate_per_s=math.inf))
        how = "every request at t = 0 (saturation), the first N of ShareGPT's seeded order"
    else:
        trace, how = long_trace(args.num_prompts, cfg, args.load)
    rss_before = peak_rss_bytes()
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        # a long trace's records stream to Parquet in chunks of STREAM_CHUNK_ROWS
        # (as `simulate run --records-format parquet` does past one chunk)
        sink = (ParquetStream(Path(tmp) / "requests.parquet")
                if args.num_prompts > SATURATION_MAX else None)
        start, cpu_start = time.perf_counter(), time.process_time()
        result = simulate(trace, cfg, sink=sink)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        summary_cpu = time.process_time()
        summary = summarize(result.records, result.stats, model_spec(cfg.model).num_layers)
        summary_cpu = time.process_time() - summary_cpu
    e = result.stats
    print(f"requests {len(trace):,}  blocks {cfg.checkpoints}  policy {cfg.policy}  "
          f"cost model: {result.labels['cost_model']}  "
          f"skip model: {result.labels.get('skip_model')}")
    print(f"trace: {how}")
    print(f"wall {wall:.2f} s   cpu {cpu:.2f} s   steps {e.steps:,}   token-block executions "
          f"{e.token_block_executions:,}")
    print(f"per cpu second: requests {len(trace) / cpu:,.0f}   steps {e.steps / cpu:,.0f}   "
          f"token-block steps {e.token_block_executions / cpu:,.0f}   "
          f"({cpu / max(e.steps, 1) * 1e6:.0f} us/step)")
    print(f"per wall second: requests {len(trace) / wall:,.0f}   steps {e.steps / wall:,.0f}   "
          f"token-block steps {e.token_block_executions / wall:,.0f}")
    print(("records streamed to Parquet in " + f"{sink.chunks} chunks" if sink else
           "records kept in memory") + f"; summary {summary_cpu:.2f} cpu s (mean TTFT "
          f"{summary['ttft_s']['mean']:.3f} s, {summary['completed']:,} completed)")
    print(f"queue folds {TokenQueue.folds:,} (a queue turned into a dict: where the scheduler "
          "took part of a queue, or a request was preempted; never per step)")
    print(f"peak RSS {peak_rss_bytes() / 2**20:,.0f} MiB (before the run: "
          f"{rss_before / 2**20:,.0f} MiB)   simulated makespan {e.end_s:,.1f} s")
    print("targets: stress <= 1.5 s, default <= 0.7 s (10,000 requests); "
          "1,000,000 requests <= 180 s, peak RSS <= 2 GiB")


if __name__ == "__main__":
    main()
