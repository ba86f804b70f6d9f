"""Simulator speed: 10,000 ShareGPT requests at saturation, 6 blocks.

Target: <= 20 s wall on one core of the reference machine (2 vCPUs, Zen 3).
Prints wall time, simulated requests/s (simulated work per wall second)
and token-block steps/s (token x block executions per wall second).

    .venv/bin/python benchmarks/bench_simulator.py [--num-prompts N] [--policy P]
        [--skip-rates 0.15]   # parametric skipping instead of the measured profile

The default configuration is `simulate`'s (measured cost model, measured
skip model). With --skip-rates the parametric model skips far more often,
which splits batches into many more, smaller steps: the harder case.
"""

from __future__ import annotations

import argparse
import math
import time

from simulator.config import SimConfig
from simulator.run import simulate
from traces.loaders import TraceConfig, load_trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-prompts", type=int, default=10_000)
    parser.add_argument("--policy", default="deepest-first")
    parser.add_argument("--checkpoints", default="5,5,5,5,5,5")
    parser.add_argument("--skip-rates", default=None,
                        help="parametric hit rate per checkpoint (default: the measured model)")
    args = parser.parse_args()
    trace = load_trace("sharegpt", TraceConfig(num_prompts=args.num_prompts,
                                               request_rate_per_s=math.inf))
    skip = ({"skip_model": "parametric", "skip_options": {"hit_rates": args.skip_rates}}
            if args.skip_rates else {})
    cfg = SimConfig(policy=args.policy, checkpoints=args.checkpoints, **skip)
    start, cpu_start = time.perf_counter(), time.process_time()
    result = simulate(trace, cfg)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    e = result.stats
    print(f"requests {len(trace):,}  blocks {cfg.checkpoints}  policy {cfg.policy}  "
          f"cost model: {result.labels['cost_model']}  "
          f"skip model: {result.labels.get('skip_model')}")
    print(f"wall {wall:.2f} s   cpu {cpu:.2f} s   steps {e.steps:,}   token-block executions "
          f"{e.token_block_executions:,}")
    print(f"simulated requests/s (wall) {len(trace) / wall:,.0f}   steps/s {e.steps / wall:,.0f}"
          f"   token-block steps/s {e.token_block_executions / wall:,.0f}")
    print(f"simulated makespan {e.end_s:.1f} s  (target: wall <= 20 s for 10,000 requests)")


if __name__ == "__main__":
    main()
