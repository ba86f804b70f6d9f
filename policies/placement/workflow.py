"""`simulate plan` end to end: measure the inputs, solve, explain, compare, write.

Kept apart from `cli.py` so that argument parsing never imports PuLP, the
cost models or the simulator. The explanation of an empty plan names the
best single router and what it would cost, so "no routers" is an answer
with its reason, not a silence.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from policies.placement.base import Plan
from policies.placement.batch import describe, little_batch
from policies.placement.compare import Row, baseline_plans, format_table, make_rows
from policies.placement.evaluate import evaluate
from policies.placement.ilp_solve import solve
from policies.placement.inputs import PlanInputs
from policies.placement.measure import GIB, Workload, build_inputs, load_profile
from policies.placement.plan_file import PlanChoice, RouterChoice, write_plan
from policies.placement.stages import checkpoints_of, resolve_num_gpus, stage_problem, staged
from simulator.config import SimConfig
from skipsim.errors import UserError


@dataclass(frozen=True)
class Planning:
    """What `simulate plan` measures before it solves: the model, the workload
    and the skip profile, and `inputs_at(batch, note)`, the ILP's inputs priced
    at a whole batch."""
    spec: object                  # ModelSpec
    trace: object                 # the workload's Trace
    workload: Workload
    gpu_memory_bytes: float       # one GPU's
    num_gpus: int
    profile: object               # SkipProfile
    profile_path: str
    inputs_at: Callable[[int, str], PlanInputs]


def planning(args, tcfg, rate: float) -> Planning:
    """The measurements `args` (`simulate plan`'s) name, ready to price at any batch."""
    from simulator.components import build_cost_model
    from simulator.run import _device_memory
    from simulator.skip_models.measured import MeasuredSkipModel
    from skipsim.model_spec import model_spec
    from traces.loaders import load_trace

    spec = model_spec(args.model)
    cost = build_cost_model(args.cost_model, spec, args.device)
    trace = load_trace(args.trace, tcfg)
    workload = Workload.from_trace(trace.prompt_tokens, trace.output_tokens,
                                   None if math.isinf(rate) else rate)
    gpu = args.gpu_memory * GIB if args.gpu_memory else _device_memory(args.device)
    num_gpus, stages_note = resolve_num_gpus(spec, gpu, workload.tokens_per_request,
                                             args.num_gpus, _gpu_name(args.device))
    profile, profile_path = load_profile(args.skip_profile, spec)
    p_scale = MeasuredSkipModel(profile).kv_hole_p_change_scale(args.kv_policy)
    labels = {"skip_profile": profile_path, "device": args.device, "kv_policy": args.kv_policy,
              "objective": args.objective, "solver": args.solver, "stages_note": stages_note,
              # 0: prove the optimum however long it takes
              "time_limit_s": args.time_limit or None}

    def inputs_at(batch: int, note: str) -> PlanInputs:
        return build_inputs(spec, cost, profile, workload, batch, gpu, args.min_agreement,
                            args.kv_policy, p_scale, labels={**labels, "batch_note": note},
                            bank_sweep=args.bank_sweep, num_gpus=num_gpus)

    return Planning(spec, trace, workload, gpu, num_gpus, profile, profile_path, inputs_at)


def plan_and_report(args, tcfg, rate: float, out=sys.stdout) -> int:
    m = planning(args, tcfg, rate)
    inputs_at, workload, profile = m.inputs_at, m.workload, m.profile
    point = args.baseline_point or next(t for t in profile.targets()
                                        if float(t) == profile.target_agreement)
    limit = args.time_limit or None
    if args.objective == "time" and args.batch:
        inputs = inputs_at(args.batch, "given by --batch")
        plan, stats = solve(inputs, args.solver, time_limit_s=limit)
        own_batch = fixed_batch(inputs)
    elif args.objective == "time":
        inputs, plan, stats, own_batch = solve_at_own_batch(inputs_at, workload, rate,
                                                            args.max_num_seqs, args.solver, limit)
    else:
        inputs, plan, stats = best_throughput(inputs_at, args.tpot_slo_ms / 1e3, args.max_num_seqs,
                                              args.solver, limit)
        own_batch = fixed_batch(inputs)
    rows = make_rows(inputs, [("ILP plan", plan), *baseline_plans(inputs, point)], own_batch)
    choice = plan_choice(inputs, plan, rows[0], profile, m.profile_path, stats)
    inputs.labels["stage_problem"] = stage_problem(
        m.spec, choice.boundaries, choice.bank_entries, int(m.gpu_memory_bytes), m.num_gpus,
        SimConfig.kv_block_tokens, SimConfig.bank_entry_overhead_bytes) if m.num_gpus > 1 else ""
    path = write_plan(choice, args.out)
    if args.confirm:
        confirm_rows(rows, inputs, m.trace, profile, args, Path(args.out))
    print(report(inputs, plan, rows, stats, workload), file=out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def plan_tpot(inputs_at, plan: Plan):
    """TPOT(b) of `plan`: b × its time per token, priced at whole batch b."""
    def tpot(b: int) -> float:
        inputs = inputs_at(b, "")
        return inputs.batch * evaluate(inputs, plan).time_per_token_s
    return tpot


def solve_at_own_batch(inputs_at, workload: Workload, rate: float, max_num_seqs: int,
                       solver: str, time_limit_s: float | None = None, rounds: int = 4):
    """The ILP plan priced at its own operating batch: start from the no-skip
    plan's Little's-law batch, solve, and re-solve at the chosen plan's own batch
    until the whole batch repeats (`batch.py`: the batch follows the plan)."""
    out_tokens = workload.mean_output_tokens
    rate_or_none = None if math.isinf(rate) else rate
    # the batch can grow no further than the KV cache holds (`measure.kv_budget`
    # prices a larger one at that size, and the scheduler admits no more)
    # and no further than the trace has requests (200 ShareGPT prompts at once run
    # 200 at a time at most, whatever --max-num-seqs allows)
    kv_holds = inputs_at(max_num_seqs, "").batch
    cap = min(max_num_seqs, kv_holds, workload.num_requests or max_num_seqs)
    cap_by = ("--max-num-seqs" if cap == max_num_seqs else
              "what the KV cache holds" if cap == kv_holds else
              f"the trace's {workload.num_requests} requests")

    def own(plan: Plan) -> tuple[float, float]:
        return little_batch(plan_tpot(inputs_at, plan), rate_or_none, out_tokens, cap)

    def note(b: float, t: float) -> str:
        return describe(b, rate_or_none, out_tokens, t, cap, cap_by)

    L = inputs_at(1, "").num_layers
    b, t = own(Plan((0, L), ()))
    tried: dict[int, tuple] = {}
    batch = max(1, round(b))
    plan = None
    while batch not in tried and len(tried) < rounds:
        inputs = inputs_at(batch, note(b, t))
        # the previous batch's plan seeds the solver's warm start (`ilp.solve`)
        plan, stats = solve(inputs, solver, start=plan, time_limit_s=time_limit_s)
        if plan is None:
            raise UserError(f"no plan fits: the bank budget is "
                            f"{inputs.bank_budget_bytes / GIB:.2f} GiB")
        b, t = own(plan)
        tried[batch] = (inputs, plan, stats, t)
        batch = max(1, round(b))
    # a cycle of batches: the plan whose own TPOT is smallest
    inputs, plan, stats, _ = min(tried.values(), key=lambda x: x[3])
    return inputs, plan, stats, own


def fixed_batch(inputs: PlanInputs):
    """Every plan at the batch of `inputs` (--batch, or the throughput objective's)."""
    def own_batch(plan: Plan) -> tuple[float, float]:
        return float(inputs.batch), inputs.batch * evaluate(inputs, plan).time_per_token_s
    return own_batch


def best_throughput(inputs_at, slo_s: float, max_num_seqs: int, solver: str,
                    time_limit_s: float | None = None):
    """Most tokens/s (1 / time per token) over batch sizes 1, 2, 4, ... whose KV
    cache fits, with B × time per token <= the TPOT SLO."""
    best, batch, first = None, 1, None
    while batch <= max_num_seqs:
        inputs = inputs_at(batch, f"best batch for the TPOT SLO {slo_s * 1e3:g} ms")
        if inputs.batch != batch:  # the KV cache holds fewer: larger batches cannot fit either
            break
        plan, stats = solve(inputs, solver, time_cap_s=slo_s, time_limit_s=time_limit_s,
                            start=best[1] if best is not None else None)
        first = first or (inputs, plan, stats)
        if plan is not None and (best is None or stats.objective_s < best[2].objective_s):
            best = (inputs, plan, stats)
        batch *= 2
    if best is None:
        inputs = first[0] if first else inputs_at(1, "batch 1")
        fastest, st = solve(inputs, solver, time_limit_s=time_limit_s)
        raise UserError(f"TPOT SLO {slo_s * 1e3:g} ms cannot be met: the fastest plan at "
                        f"batch {inputs.batch} takes {st.objective_s * inputs.batch * 1e3:.3f} ms "
                        "per decode step")
    return best


def plan_choice(inputs: PlanInputs, plan: Plan, row: Row, profile, profile_path: str,
                stats) -> PlanChoice:
    routers = tuple(RouterChoice(b, k, plan.option(inputs, b).bank_entries)
                    for b, k in zip(plan.routers, plan.option_keys))
    ev = row.ev
    return PlanChoice(
        model=inputs.model, num_layers=inputs.num_layers, boundaries=tuple(plan.boundaries),
        routers=routers, num_gpus=inputs.labels.get("num_gpus", 1),
        inputs={"cost_model": inputs.labels["cost_model"], "skip_profile": profile_path,
                "transfer_note": inputs.labels.get("transfer_note", ""),
                "min_agreement": inputs.min_agreement, "batch": inputs.batch,
                "batch_note": inputs.labels.get("batch_note", ""),
                "memory_note": inputs.labels.get("memory_note", ""),
                "device": inputs.labels.get("device"), "kv_policy": inputs.labels.get("kv_policy"),
                "objective": inputs.labels.get("objective"),
                "gpu_memory_bytes": inputs.labels["gpu_memory_bytes"]},
        predicted={"time_per_token_s": ev.time_per_token_s,
                   "tpot_s": row.tpot_s, "operating_batch": row.batch,
                   "agreement": ev.agreement, "log_agreement": ev.log_agreement,
                   "skipped_fraction": ev.skipped_fraction, "bank_bytes": ev.bank_bytes,
                   "kv_bytes": row.kv_bytes, "solver_status": stats.status,
                   "proved_optimal": stats.proved, "relaxation_bound_s": stats.bound_s,
                   "variables": stats.variables, "constraints": stats.constraints,
                   "solve_s": stats.solve_s},
        skip_profile=profile)


def why(inputs: PlanInputs, plan: Plan) -> str:
    full = evaluate(inputs, Plan((0, inputs.num_layers), ()))
    ev = evaluate(inputs, plan)
    if plan.routers:
        return (f"saves {(1 - ev.time_per_token_s / full.time_per_token_s):.1%} of the time per "
                f"token against no skipping, at predicted agreement {ev.agreement:.4f}")
    best = None
    for c in inputs.candidates:
        for o in inputs.options_at(c):
            e = evaluate(inputs, Plan((0, c, inputs.num_layers), (o.key,)))
            if e.feasible and (best is None or e.time_per_token_s < best[2].time_per_token_s):
                best = (c, o, e)
    hits = [o.hit_prob for c in inputs.candidates for o in inputs.options_at(c)]
    if best is None:
        return ("no router pays: no single router meets the agreement floor "
                f"{inputs.min_agreement:g} and the bank budget")
    c, o, e = best
    share = inputs.first_share  # the router's first lookup is the whole round's
    lookup_s = o.lookup.fixed_s * share + o.lookup.per_token_s
    layer_us = (inputs.layer.per_token_s + inputs.layer.fixed_s * share) * 1e6
    return (f"no router pays: the best single router allowed by the floor {inputs.min_agreement:g} "
            f"(layer {c} at {o.key}, hit rate {o.hit_prob:.2%}) skips {e.skipped_fraction:.2%} of "
            f"layer executions and would change the time per token by "
            f"{(e.time_per_token_s - full.time_per_token_s) * 1e6:+.1f} us (its lookup costs "
            f"{lookup_s * 1e6:.1f} us per token, a layer {layer_us:.1f} us); "
            f"the highest hit rate of any measured option is {max(hits, default=0):.2%}")


def report(inputs: PlanInputs, plan: Plan, rows, stats, workload: Workload) -> str:
    L = inputs.labels
    lines = [f"model {inputs.model} ({inputs.num_layers} layers) on {L.get('device')}; "
             f"cost model: {L['cost_model']}",
             f"skip profile: {L['skip_profile']}"]
    if L.get("stages_note"):
        lines.append(f"NOTE: {L['stages_note']}")
    if L.get("transfer_note"):
        lines.append(f"NOTE: {L['transfer_note']}")
    lines.append(f"workload: mean prompt {workload.mean_prompt_tokens:.0f} + output "
                 f"{workload.mean_output_tokens:.0f} tokens; operating batch {inputs.batch} "
                 f"({L.get('batch_note', '')})")
    if L.get("memory_note"):
        lines.append(f"NOTE: {L['memory_note']}")
    n = L.get("num_gpus", 1)
    pooled = (f"{L['gpu_memory_bytes'] / GIB:.2f} GiB" if n == 1 else
              f"{n} GPUs x {L['gpu_memory_bytes'] / GIB:.2f} GiB (pooled over the pipeline "
              f"stages) = {n * L['gpu_memory_bytes'] / GIB:.2f} GiB")
    lines.append(f"memory: {pooled} = weights "
                 f"{L['weight_bytes'] / GIB:.2f} GiB + banks + KV; bank budget "
                 f"{inputs.bank_budget_bytes / GIB:.3f} GiB "
                 f"(KV keeps room for batch {inputs.batch})")
    if L.get("stage_problem"):
        lines.append(f"NOTE: on {n} GPUs the simulator's per-GPU accounting refuses the chosen "
                     f"plan: {L['stage_problem']}")
    lines.append(f"ILP ({L['solver']}): {stats.variables} variables ({stats.binaries} binary), "
                 f"{stats.constraints} constraints, {stats.status} in {stats.solve_s:.2f} s; "
                 f"agreement floor {inputs.min_agreement:g} (as exp E[sum log keep])")
    if not stats.proved:
        lines.append(f"NOTE: {stats.gap_note(L.get('time_limit_s'))}")
    lines.append(f"chosen plan: {plan.describe(inputs)}")
    lines.append(f"why: {why(inputs, plan)}")
    lines.append("")
    lines.append(format_table(rows, inputs))
    if L.get("transfer_note"):
        lines.append(f"(every skip figure above is transferred: {L['transfer_note']})")
    return "\n".join(lines)


def confirm_rows(rows, inputs: PlanInputs, trace, profile, args, out_path: Path) -> None:
    """Simulate every row on the workload (its own plan file carries the figures)."""
    from tqdm import tqdm

    from simulator.metrics import summarize
    from simulator.run import simulate

    folder = out_path.with_suffix("").parent / (out_path.stem + "-confirm")
    num_gpus = inputs.labels.get("num_gpus", 1)
    for i, row in enumerate(tqdm(rows, desc="confirming", file=sys.stderr,
                                 disable=True if args.no_progress else None, leave=False)):
        choice = PlanChoice(inputs.model, inputs.num_layers, tuple(row.plan.boundaries),
                            tuple(RouterChoice(b, k, row.plan.option(inputs, b).bank_entries)
                                  for b, k in zip(row.plan.routers, row.plan.option_keys)),
                            skip_profile=profile, num_gpus=num_gpus)
        path = write_plan(choice, folder / f"row{i}.json")
        bounds, entries = staged(choice.boundaries, choice.bank_entries, num_gpus)
        try:
            cfg = SimConfig(model=args.model, device=args.device, cost_model=args.cost_model,
                            checkpoints=checkpoints_of(bounds), skip_model="measured",
                            skip_options={"skip_config": str(path)}, kv_policy=args.kv_policy,
                            gpu_memory_bytes=int(inputs.labels["gpu_memory_bytes"]),
                            bank_entries=entries, max_num_seqs=args.max_num_seqs,
                            num_gpus=num_gpus, seed=args.seed)
            result = simulate(trace, cfg)
        except UserError as err:  # e.g. a plan with fewer blocks than GPUs: the others still run
            row.sim = {"error": str(err)}
            continue
        s = summarize(result.records, result.stats, inputs.num_layers)
        row.sim = {"tpot_s": s["tpot_s"]["mean"], "e2e_s": s["e2e_s"]["mean"],
                   "tokens_per_s": s["output_throughput_tok_per_s"],
                   "agreement": s["expected_agreement"]}


def _gpu_name(device: str) -> str:
    from profiler.devices import device_spec

    try:
        return device_spec(device).name
    except UserError:
        return f"GPU ({device})"
