"""`simulate plan`: choose checkpoints, operating points and bank sizes by ILP.

    simulate plan --model smollm2 --trace sharegpt --request-rate 0.1 --min-agreement 0.99 \
        --out plan.json
    simulate plan --model llama-3-70b --device h100-sxm --min-agreement 0.95 --confirm

A model that does not fit one GPU is planned on the fewest GPUs that hold it,
as pipeline stages (`--num-gpus`, `stages.py`); plan.json records how many.

Prints the chosen plan, why, and the comparison table (`compare.py`); writes
plan.json (`plan_file.py`), which `simulate run --plan` reads. Heavy imports
(PuLP, the simulator) happen inside `run`, not when arguments are parsed.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from policies.placement.solvers import SOLVERS
from simulator.config import SimConfig
from skipsim.errors import UserError
from traces.cli import add_trace_arguments, trace_config

OBJECTIVES = ("time", "throughput")


def add_arguments(parser) -> None:
    d = SimConfig()
    add_trace_arguments(parser)
    parser.set_defaults(request_rate=None, num_prompts=200)
    g = parser.add_argument_group("planning")
    g.add_argument("--model", default=d.model,
                   help=f"model spec name or HF folder (default: {d.model})")
    g.add_argument("--device", default=d.device, help=f"device (default: {d.device})")
    g.add_argument("--cost-model", default=d.cost_model, metavar="NAME|PATH",
                   help="auto, measured, roofline or a profile path, as `simulate run` "
                        "(default: auto)")
    g.add_argument("--gpu-memory", type=float, default=None, metavar="GIB",
                   help="memory per GPU in GiB (default: the device's)")
    g.add_argument("--num-gpus", type=int, default=None, metavar="N",
                   help=f"pipeline stages, as `simulate run --num-gpus` (default: auto, the "
                        f"fewest GPUs that hold the weights and one request's KV cache; "
                        f"{d.num_gpus} when one does)")
    g.add_argument("--min-agreement", type=float, default=0.99,
                   help="floor on agreement with the full model (default: 0.99)")
    g.add_argument("--skip-profile", default=None, metavar="PROFILE.json",
                   help="SkipProfile to plan from (default: profiler/profiles/smollm2-48x16.json, "
                        "live-calibrated; smollm2-plan.json has candidates from layer 4)")
    g.add_argument("--bank-sweep", action="store_true",
                   help="also offer the profile's bank-size sweep (smaller banks; thresholds "
                        "calibrated offline, which overshoot live) as operating points")
    g.add_argument("--kv-policy", default="project", choices=("project", "copy"),
                   help="KV holes of skipped layers (default: project)")
    g.add_argument("--batch", type=int, default=None,
                   help="operating batch size (default: each plan's own, by Little's law at "
                        "--request-rate)")
    g.add_argument("--max-num-seqs", type=int, default=d.max_num_seqs,
                   help=f"most requests in one batch (default: {d.max_num_seqs})")
    g.add_argument("--objective", default="time", choices=OBJECTIVES,
                   help="time: least decode time per token at the batch; throughput: most "
                        "tokens/s over batch sizes with TPOT <= --tpot-slo-ms (default: time)")
    g.add_argument("--tpot-slo-ms", type=float, default=None,
                   help="TPOT SLO for --objective throughput")
    g.add_argument("--solver", default="cbc", choices=sorted(SOLVERS),
                   help="MILP solver: cbc (bundled with PuLP) or highs (needs highspy) "
                        "(default: cbc)")
    g.add_argument("--time-limit", type=float, default=60.0, metavar="S",
                   help="stop each ILP solve after S seconds with its best plan, and say how "
                        "far from optimal it may be (default: 60; 0: prove the optimum "
                        "however long it takes)")
    g.add_argument("--baseline-point", default=None, metavar="KEY",
                   help="operating point of the baselines' routers (default: the profile's target)")
    g.add_argument("--out", default="plan.json", metavar="FILE",
                   help="plan file (default: plan.json)")
    g.add_argument("--confirm", action="store_true",
                   help="simulate every row of the table on the workload")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from policies.placement import workflow

    if args.objective == "throughput" and not args.tpot_slo_ms:
        raise UserError("--objective throughput needs --tpot-slo-ms")
    if not 0.0 <= args.min_agreement <= 1.0:
        raise UserError(f"--min-agreement must lie in [0, 1], got {args.min_agreement}")
    if not args.time_limit >= 0.0:  # also refuses nan
        raise UserError(f"--time-limit must be 0 (no limit) or more seconds, got "
                        f"{args.time_limit}")
    return workflow.plan_and_report(args, *workload_config(args), sys.stdout)


def workload_config(args) -> tuple:
    """(trace config, request rate; inf = all at once) of `simulate plan`'s arguments."""
    rate = args.request_rate if args.request_rate is not None else math.inf
    targs = argparse.Namespace(**vars(args))
    targs.model = args.model if Path(args.model).is_dir() else "smollm2"  # the trace's tokenizer
    return trace_config(targs, rate), rate
