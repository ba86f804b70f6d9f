"""Speed of the placement ILP: solve time at L = 30 (target <= 1 s) and L = 80
(target <= 10 s) on one core, with the model's size.

Instances are random but seeded (`tests/placement_helpers.py`): L = 30 with
a candidate every second layer from layer 4 (as the committed SmolLM2
planning profile), L = 80 with every layer from 4 a candidate; landings up
to 6 layers or an exit, a 0.95 agreement floor, batch 1 and batch 16. The
one-core figure is the whole solve's CPU time: this process (model build,
the warm-start search of `incumbent.py`, PuLP's file round trip) plus the
CBC child's user + system time, on one thread; the wall times are printed
beside it, as the machine may be shared. Untimed, beside each solve: the
root gap, 100 (best - LP) / best with LP the relaxation's optimum and best
the optimum (or, for a solve stopped by `--time-limit`, the warm start's
time), and how far the warm start (`incumbent.py`) lies above the optimum,
both in % of the time per token; a solve that needs many nodes has the one
or the other large.

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

from policies.placement.ilp import MICRO, build_model, solve  # noqa: E402
from policies.placement.incumbent import local_search  # noqa: E402
from skipsim.errors import UserError  # noqa: E402

CASES = [  # (L, candidate step, options per candidate, target seconds)
    (30, 2, 8, 1.0),
    (80, 1, 3, 10.0),
]


def child_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def relaxation_s(inputs) -> float:
    """The optimum of the LP relaxation (seconds per token): the root's bound."""
    import pulp

    prob, _, _ = build_model(inputs)
    prob.solve(pulp.PULP_CBC_CMD(msg=False, mip=False))
    return pulp.value(prob.objective) / MICRO


def gaps(inputs, best_s: float | None) -> str:
    """'root gap %  start %' (untimed diagnostics)."""
    start = local_search(inputs)[1]
    best = start if best_s is None else best_s
    above = max(0.0, 100 * (start - best) / best) if best_s is not None else float("nan")
    return f"{100 * (best - relaxation_s(inputs)) / best:>6.2f} {above:>7.2f}"


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
          f"{'routers':>7} {'status':>7} {'gap %':>6} {'start %':>7}")
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
                          f"  {err}; root gap % {gaps(inputs, None).split()[0]}", flush=True)
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
                      f"{target:>8.1f} {len(plan.routers):>7} {st.status:>7} "
                      f"{gaps(inputs, st.objective_s)}", flush=True)
    for L, _, _, target in [c for c in CASES if c[0] in worst]:
        verdict = "met" if worst[L] <= target else f"MISSED by {worst[L] - target:.2f} s"
        print(f"L = {L}: worst one-core time {worst[L]:.3f} s, target {target:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
