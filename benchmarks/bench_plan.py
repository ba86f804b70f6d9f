"""Speed of the placement ILP: solve time at L = 30 (target <= 1 s) and L = 80
(target <= 10 s) on one core, with the model's size.

Instances are random but seeded (`tests/placement_helpers.py`): L = 30 with
a candidate every second layer from layer 4 (as the committed SmolLM2
planning profile), L = 80 with every layer from 4 a candidate; landings up
to 6 layers or an exit, a 0.95 agreement floor, batch 1 and batch 16. The
one-core figure is the whole solve's CPU time: this process (model build,
the warm-start search of `incumbent.py`, PuLP's file round trip) plus the
CBC child's user + system time, on one thread; the wall times are printed
beside it, as the machine may be shared.

    .venv/bin/python benchmarks/bench_plan.py [--solver highs] [--seeds 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from placement_helpers import random_inputs  # noqa: E402

from policies.placement.ilp import build_model, solve  # noqa: E402
from skipsim.errors import UserError  # noqa: E402

CASES = [  # (L, candidate step, options per candidate, target seconds)
    (30, 2, 8, 1.0),
    (80, 1, 3, 10.0),
]


def child_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", default="cbc")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--layers", default="30,80", help="which cases (default: 30,80)")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="stop a solve after this many seconds and report it unsolved")
    args = ap.parse_args()
    print(f"solver {args.solver}; total cpu = this process (build, warm-start search, PuLP) "
          "+ the solver process, one thread")
    print(f"{'L':>3} {'batch':>5} {'seed':>4} {'vars':>6} {'binary':>6} {'constr':>6} "
          f"{'build s':>8} {'start s':>7} {'solve wall s':>12} {'total cpu s':>11} {'target s':>8} "
          f"{'routers':>7}")
    worst = {}
    layers = {int(x) for x in args.layers.split(",")}
    for L, step, nopt, target in [c for c in CASES if c[0] in layers]:
        for batch in (int(b) for b in args.batches.split(",")):
            for seed in range(args.seeds):
                inputs = random_inputs(seed, L, step=step, num_options=nopt, batch=batch,
                                       min_agreement=0.95, max_landing=6, first=4)
                cpu0, t0 = child_cpu_s(), time.process_time()
                try:
                    plan, st = solve(inputs, args.solver, time_limit_s=args.time_limit)
                except UserError as err:  # no optimum within the time limit
                    prob, _, _ = build_model(inputs)
                    print(f"{L:>3} {batch:>5} {seed:>4} {prob.numVariables():>6} "
                          f"{len(inputs.candidates) * (1 + nopt):>6} {prob.numConstraints():>6}"
                          f"  {err}", flush=True)
                    worst[L] = float("inf")
                    continue
                if plan is None:  # CBC can report a stop at the limit without a plan so
                    print(f"{L:>3} {batch:>5} {seed:>4} {st.variables:>6} {st.binaries:>6} "
                          f"{st.constraints:>6}  no plan: {st.status}", flush=True)
                    worst[L] = float("inf")
                    continue
                # the whole solve on one core: this process (model build, warm-start
                # search, PuLP's file round trip, highspy) plus the CBC child
                cpu = child_cpu_s() - cpu0 + time.process_time() - t0
                worst[L] = max(worst.get(L, 0.0), cpu)
                print(f"{L:>3} {batch:>5} {seed:>4} {st.variables:>6} {st.binaries:>6} "
                      f"{st.constraints:>6} {st.build_s:>8.3f} {st.start_s:>7.3f} "
                      f"{st.solve_s:>12.3f} {cpu:>11.3f} "
                      f"{target:>8.1f} {len(plan.routers):>7} {st.status}", flush=True)
    for L, _, _, target in [c for c in CASES if c[0] in worst]:
        verdict = "met" if worst[L] <= target else f"MISSED by {worst[L] - target:.2f} s"
        print(f"L = {L}: worst one-core time {worst[L]:.3f} s, target {target:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
