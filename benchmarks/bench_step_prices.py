"""How well do profiles price the executor's own steps? One real run, several prices.

Runs the executor once per policy with every request at t = 0 (validate's
capacity run: `--quick`'s workload, the quick SkipProfile's live routers for
a routing policy), its pieces timed on the thread's CPU clock instead of the
wall clock, so that other jobs on a shared machine do not inflate them (one
torch thread: the work runs on the calling thread, as the profiler's clock
assumes; nothing sleeps, as no request waits for its arrival). Then prices
every step of that log by each `--profile` (`profiler.from_steps.price_steps`)
and prints validate's step-level errors per kind of work: the signed total
(+: the profile prices more than the executor took) and the median APE,
beside the machine's speed during the run against each profile's speed
probe (`profiler.speed_probe`: reference / the probes before and after the run).

    nice -n 10 .venv/bin/python benchmarks/bench_step_prices.py \\
        --profile profiler/profiles/cpu-xeon-smollm2.csv,/tmp/cold.csv [--keep DIR]

With two profiles measured back to back (e.g. the layer rows warm and cold,
`bench_step_prices.py --measure-layers quick`), the difference between their
rows is the systematic part, since the machine's drift is shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def thread_clock_run(argv: list[str]) -> int:
    """`simulate execute argv` with the executor's clock on the thread's CPU time."""
    import executor.serve as serve
    from reports.validation.real_runs import _execute

    base = serve.Executor

    class ThreadClock(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "clock": time.thread_time})

    serve.Executor = ThreadClock
    try:
        rc, message = _execute(argv)
    finally:
        serve.Executor = base
    if rc:
        raise SystemExit(f"the executor run failed: {message}")
    return rc


def measure_layers(grid_name: str, base: str, out_dir: Path) -> list[str]:
    """The layer rows of `base` measured now on `grid_name`, warm then cold,
    each merged into a copy of `base`: two profiles that differ only there."""
    import dataclasses

    from profiler.grid import GRIDS
    from profiler.profile_table import ProfileTable
    from profiler.record import merge_parts, record_profile

    paths = []
    for cold in (False, True):
        grid = dataclasses.replace(GRIDS[grid_name](), cold_layers=cold)
        t0 = time.process_time()
        table = record_profile("smollm2", "cpu", grid, threads=1, parts=("layers",),
                               command=f"bench_step_prices layers cold={cold}")
        print(f"layers on the {grid_name} grid, {'cold' if cold else 'warm'}: "
              f"{table.meta['wall_s']:.0f} s wall, {time.process_time() - t0:.0f} s CPU; "
              f"probe {table.meta['speed_probe']['reference_s'] * 1e3:.1f} ms", flush=True)
        path = merge_parts(ProfileTable.load(base), table).save(
            out_dir / f"layers-{'cold' if cold else 'warm'}.csv")
        paths.append(str(path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="profiler/profiles/cpu-xeon-smollm2.csv",
                        help="comma list of profiles to price the steps by")
    parser.add_argument("--measure-layers", default=None, metavar="GRID",
                        help="also measure the layer rows now on this grid (quick, full), "
                             "warm and cold, into copies of the first --profile")
    parser.add_argument("--policy", default="no-skip,deepest-first")
    parser.add_argument("--num-prompts", type=int, default=6)
    parser.add_argument("--max-output-tokens", type=int, default=32)
    parser.add_argument("--keep", default=None, help="keep the runs and profiles here")
    args = parser.parse_args()
    import pandas as pd

    from profiler.fitted import load_fitted
    from profiler.from_steps import price_steps
    from profiler.speed_probe import probe_s, profile_reference, relative_speed
    from profiler.timing import set_threads
    from reports.validation.compare import step_errors
    from reports.validation.config import QUICK_SKIP_CONFIG, ValidateConfig
    from reports.validation.protocol import workload
    from simulator.skip_models.measured import PROFILES

    set_threads(1)
    out = Path(args.keep or tempfile.mkdtemp(prefix="step-prices-"))
    out.mkdir(parents=True, exist_ok=True)
    profiles = [p for p in args.profile.split(",") if p]
    cfg = ValidateConfig(num_prompts=args.num_prompts, max_output_tokens=args.max_output_tokens)
    trace = workload(cfg, out)
    logs, probes = {}, {}
    for policy in args.policy.split(","):
        run = out / f"run-{policy}"
        t0 = time.process_time()
        before_s = probe_s()
        thread_clock_run(["--model", "smollm2", "--policy", policy, "--trace", str(trace),
                          "--request-rate", "inf", "--threads", "1", "--seed", "0",
                          "--skip-mode", "router", "--skip-config",
                          str(PROFILES / QUICK_SKIP_CONFIG), "--out", str(run),
                          "--no-progress"])
        logs[policy] = pd.read_parquet(run / "steps.parquet")
        probes[policy] = [before_s, probe_s()]
        print(f"{policy}: {logs[policy]['step'].nunique()} steps, executor run "
              f"{time.process_time() - t0:.0f} s CPU (thread clock); speed probe "
              + " / ".join(f"{x * 1e3:.1f}" for x in probes[policy]) + " ms", flush=True)
    if args.measure_layers:
        profiles += measure_layers(args.measure_layers, profiles[0], out)
    for policy, steps in logs.items():
        print(f"\n{policy}: signed total error of the price per kind (+: priced above the "
              "executor's time), median APE in brackets")
        for path in profiles:
            errs = step_errors(price_steps(steps, load_fitted(path)))
            cells = ", ".join(f"{k} {v['total_signed_pct']:+.1f}% ({v['median_ape']:.0f}%)"
                              for k, v in errs.items() if v["n"])
            speed = relative_speed(profile_reference(path), probes[policy])
            print(f"  {path}: {cells}; machine speed against its probe: "
                  + ("no reference" if speed is None else f"{speed:.2f}"))


if __name__ == "__main__":
    main()
