"""Start-up time of the `simulate` command: how long until it answers.

Target: <= 0.5 s wall for `--help`, a subcommand's `--help` and every
argument error (issue 9). Each command runs in a fresh process several times;
the median wall time is printed with the answer's exit code, so an import of
torch/transformers/sklearn creeping back into argument parsing shows at once.
The median CPU time (user + system) of the process is printed beside it: on
a shared, loaded machine the wall time grows with the load, the CPU time
hardly, and on an idle machine the two are close.

    .venv/bin/python benchmarks/bench_startup.py [--repeats 7] [--simulate PATH]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
COMMANDS = [
    ["--help"],
    ["run", "--help"],
    ["run", "--policy", "bogus"],
    ["run", "--request-rate", "abc"],
    ["trace", "--help"],
    ["profile", "--help"],
    ["calibrate", "--help"],
]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timings(argv: list[str], repeats: int) -> tuple[list[float], list[float], int]:
    """(wall times, CPU times, last exit code) of `repeats` fresh runs of argv."""
    walls, cpus, code = [], [], 0
    for _ in range(repeats):
        cpu, start = _children_cpu_s(), time.perf_counter()
        code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        walls.append(time.perf_counter() - start)
        cpus.append(_children_cpu_s() - cpu)
    return walls, cpus, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--simulate", default=str(Path(sys.executable).with_name("simulate")),
                        help="the simulate entry point (default: beside this python)")
    args = parser.parse_args()
    print(f"{'command':<36} {'wall s':>7} {'min s':>6} {'max s':>6} {'cpu s':>6}  exit  "
          f"target {TARGET_S} s (wall median)")
    for extra in COMMANDS:
        walls, cpus, code = timings([args.simulate, *extra], args.repeats)
        median = statistics.median(walls)
        verdict = "ok" if median <= TARGET_S else f"MISSED by {median - TARGET_S:.2f} s"
        print(f"{'simulate ' + ' '.join(extra):<36} {median:7.3f} {min(walls):6.3f} "
              f"{max(walls):6.3f} {statistics.median(cpus):6.3f}  {code:4d}  {verdict}")


if __name__ == "__main__":
    main()
