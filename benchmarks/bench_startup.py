"""Start-up time of the `simulate` command: how long until it answers.

Target: <= 0.5 s wall for `--help`, a subcommand's `--help` and every
argument error (issue 9). Each command runs in a fresh process several times;
the median wall time is printed with the answer's exit code, so an import of
torch/transformers/sklearn creeping back into argument parsing shows at once.

    .venv/bin/python benchmarks/bench_startup.py [--repeats 7] [--simulate PATH]
"""

from __future__ import annotations

import argparse
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


def wall_times(argv: list[str], repeats: int) -> tuple[list[float], int]:
    times, code = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - start)
    return times, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--simulate", default=str(Path(sys.executable).with_name("simulate")),
                        help="the simulate entry point (default: beside this python)")
    args = parser.parse_args()
    print(f"{'command':<40} {'median s':>9} {'min s':>7} {'max s':>7}  exit  target")
    for extra in COMMANDS:
        times, code = wall_times([args.simulate, *extra], args.repeats)
        median = statistics.median(times)
        verdict = "ok" if median <= TARGET_S else f"MISSED by {median - TARGET_S:.2f} s"
        print(f"{'simulate ' + ' '.join(extra):<40} {median:9.3f} {min(times):7.3f} "
              f"{max(times):7.3f}  {code:4d}  {verdict}")


if __name__ == "__main__":
    main()
