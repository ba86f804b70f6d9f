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

Beside the random instances, the instances `simulate plan` builds from the
committed measurements (`--profiles`, on by default): SmolLM2 (L = 30) on
this CPU's cost model (`auto`) with `profiler/profiles/smollm2-plan.json` and
its bank sweep (`--bank-sweep`: the most options any committed profile
offers) and with the default live-calibrated profile, and the Llama-3-70B
what-if (L = 80, statistics transferred by depth, roofline H100-SXM on the 2
GPUs `simulate plan` picks), each at floors 0.99, 0.95 and 0.9 and at batch
1, 16 and the largest batch the KV cache holds. The random instances are
the stress test: random hit rates up to 0.6 with a third of the hits
exiting, so half the tokens have left by layer 6 at L = 80, which is what
makes the relaxation weak (`ilp.py`); every measured profile keeps the token
mass near 1, where it is tight.

    .venv/bin/python benchmarks/bench_plan.py [--solver highs] [--seeds 3] [--no-profiles]
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

from policies.placement.ilp_solve import relaxation_s, solve  # noqa: E402
from policies.placement.incumbent import local_search  # noqa: E402

CASES = [  # (L, candidate step, options per candidate, target seconds)
    (30, 2, 8, 1.0),
    (80, 1, 3, 10.0),
]


def child_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def gaps(inputs, best_s: float | None) -> str:
    """'root gap %  start %' (untimed diagnostics)."""
    start = local_search(inputs)[1]
    best = start if best_s is None else best_s
    above = max(0.0, 100 * (start - best) / best) if best_s is not None else float("nan")
    return f"{100 * (best - relaxation_s(inputs)) / best:>6.2f} {above:>7.2f}"


PROFILE_CASES = [  # (label, model, device, skip profile (None: the default), bank sweep)
    ("smollm2 plan+sweep", "smollm2", "cpu", "profiler/profiles/smollm2-plan.json", True),
    ("smollm2 default", "smollm2", "cpu", None, False),
    ("llama-3-70b what-if", "llama-3-70b", "h100-sxm", "profiler/profiles/smollm2-plan.json",
     True),
]


def profile_inputs(model: str, device: str, profile: str | None, bank_sweep: bool,
                   floor: float, batch: int | None):
    """The PlanInputs `simulate plan --model M --device D --min-agreement F
    [--skip-profile P] [--bank-sweep]` solves (`workflow.planning`, its defaults
    otherwise: auto cost model and GPU count, its ShareGPT trace all at once);
    batch None = the largest the KV cache holds (at most 256, --max-num-seqs)."""
    from policies.placement.cli import add_arguments, workload_config
    from policies.placement.workflow import planning
    from skipsim.cli import Parser

    parser = Parser(prog="bench_plan")
    add_arguments(parser)
    argv = ["--model", model, "--device", device, "--min-agreement", str(floor)]
    argv += (["--skip-profile", str(ROOT / profile)] if profile else [])
    argv += (["--bank-sweep"] if bank_sweep else [])
    args = parser.parse_args(argv)
    return planning(args, *workload_config(args)).inputs_at(batch or args.max_num_seqs, "")


def profile_rows(solver: str, worst: dict) -> None:
    for label, model, device, profile, sweep in PROFILE_CASES:
        for floor in (0.99, 0.95, 0.9):
            for batch in (1, 16, None):
                inputs = profile_inputs(model, device, profile, sweep, floor, batch)
                L = inputs.num_layers
                cpu0, t0 = child_cpu_s(), time.process_time()
                plan, st = solve(inputs, solver)
                cpu = child_cpu_s() - cpu0 + time.process_time() - t0
                worst[L] = max(worst.get(L, 0.0), cpu)
                routers = "-" if plan is None else len(plan.routers)
                print(f"{label:<20} {L:>3} {floor:>5} {inputs.batch:>5} {st.variables:>6} "
                      f"{st.binaries:>6} {st.constraints:>6} {st.start_s:>7.3f} "
                      f"{st.solve_s:>12.3f} {cpu:>11.3f} {routers:>7} {st.status:>10}",
                      flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", default="cbc")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--layers", default="30,80", help="which cases (default: 30,80)")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="stop a solve after this many seconds and report it unsolved")
    ap.add_argument("--no-profiles", action="store_true",
                    help="skip the instances built from the committed profiles")
    args = ap.parse_args()
    if not args.no_profiles:
        print("instances from the committed measurements (simulate plan's own inputs)")
        print(f"{'profile':<20} {'L':>3} {'floor':>5} {'batch':>5} {'vars':>6} {'binary':>6} "
              f"{'constr':>6} {'start s':>7} {'solve wall s':>12} {'total cpu s':>11} "
              f"{'routers':>7} {'status':>10}")
        measured: dict = {}
        profile_rows(args.solver, measured)
        for L, t in sorted(measured.items()):
            target = next(c[3] for c in CASES if c[0] == L)
            verdict = "met" if t <= target else f"MISSED by {t - target:.2f} s"
            print(f"profiles, L = {L}: worst one-core time {t:.3f} s, target {target:.0f} s: "
                  f"{verdict}")
        print("\nrandom stress instances (tests/placement_helpers.py)")
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
                plan, st = solve(inputs, args.solver, time_limit_s=args.time_limit)
                if not st.proved:  # stopped by --time-limit (with a plan) or infeasible
                    print(f"{L:>3} {batch:>5} {seed:>4} {st.variables:>6} {st.binaries:>6} "
                          f"{st.constraints:>6}  no optimum within {args.time_limit:g} s "
                          f"({st.status}); root gap % {gaps(inputs, None).split()[0]}",
                          flush=True)
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
        print(f"random, L = {L}: worst one-core time {worst[L]:.3f} s, target {target:.0f} s: "
              f"{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
