"""The placement ILP (PuLP): routers, operating points and bank sizes in one model.

Sets. L layers; candidate checkpoints C (layers 0 < c < L with measured
router options); nodes N = {0} ∪ C ∪ {L}; at c ∈ C the options O(c) (a
calibrated operating point with a bank size: hit probability h_o, landing
distribution π_o(ℓ) over layers ℓ ∈ (c, L], ℓ = L an exit, error
probability e_o, bank entries E_o, lookup time); B the operating batch size.

Decision variables (binary unless said).
  x_c           c ∈ C is a checkpoint (it gets a router and a bank)
  u_ij          i < j ∈ N: block [i, j) is in the plan (i, j consecutive checkpoints)
  z_co          router c runs option o
  r_coj ∈ [0,1] expected visits of checkpoint c by a token, under option o, with
                j the next checkpoint: r_coj = rho_c · z_co · u_cj, linearised by
                r_coj <= z_co and Σ_o r_coj <= u_cj (exact: rho_c <= 1 and at most
                one (o, j) is on). Knowing j makes the simulator's landing rule
                linear: a hit landing at layer ℓ < j runs block [c, j) anyway.
  w_0j ∈ [0,1]  probability that a token runs the first block [0, j)
  g_cℓc' >= 0   skip flow from c landing at layer ℓ < L that resumes at the
                checkpoint c' ∈ (c, ℓ] whose block covers ℓ (the deepest checkpoint
                at or before ℓ, as `simulator/skip_models/measured.py` maps landings)

Flows (expected tokens reaching each checkpoint and block, per decode token).
  skip flow  s_cojℓ = h_o π_o(ℓ) r_coj   for ℓ >= j (ℓ = L: an exit)
  run flow   W_cj = Σ_o (1 - Σ_{ℓ >= j} h_o π_o(ℓ)) r_coj  through block [c, j)
  routing    Σ_{c'} g_cℓc' = Σ_oj s_cojℓ,   g_cℓc' <= Σ_{j > ℓ} u_c'j
  first      Σ_j w_0j = 1,  w_0j <= u_0j
  conservation at c': Σ_oj r_c'oj = w_0c' + Σ_c W_cc' + Σ_{c, ℓ} g_cℓc'

Structure. Σ_j u_0j = 1 = Σ_i u_iL; Σ_i u_ic = x_c = Σ_j u_cj;
Σ_o z_co = x_c.

Objective (seconds per decode token at batch B; F(n) = n·layer_fixed +
step overhead and P(n) = n·layer_per_token for an n-layer block, lf/lp the
lookup's fixed and per-query parts, kv the K/V projection of one skipped
layer per token, head the LM head):
  B > 1: Σ_ij [u_ij F(j-i)/B + W_ij P(j-i)] + Σ_coj [z_co lf_o/B + r_coj lp_o] + KV + head
  B = 1: Σ_ij W_ij (F + P)(j-i)            + Σ_coj r_coj (lf_o + lp_o)         + KV + head
  KV = kv · [Σ_cℓc' g_cℓc' (c' - c) + Σ_coj s_cojL (L - c)]   (W_0j = w_0j)
At B > 1 every block of the plan runs once per round with the tokens that
reach it (exact when each block gets at least one token per round); at B = 1
a block runs only when the token reaches it (exact).

Units: times in seconds (the solver sees microseconds), flows in tokens per
decode token, memory in bytes. Head includes each request's prefill spread
over its output tokens (plan-independent, `measure.py`).

Constraints.
  agreement   Σ_coj log(1 - e_o) Σ_ℓ s_cojℓ >= log(floor): E[Σ log keep] is
              linear in the flows; by Jensen exp(E[log keep]) <= E[keep], so the
              floor also bounds the expected agreement from below
  memory      Σ_co z_co E_o · entry_bytes <= bank budget: the GPU memory left after
              the weights and the KV cache of B requests (`measure.py`), so banks
              can never squeeze the KV cache below the operating batch

Second objective (`throughput`): for each batch size B the KV cache admits,
minimise the time per token with B · time <= the TPOT SLO; the best 1/time
over B wins (`workflow.best_throughput`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from policies.placement.base import Placement, Plan, register_placement
from policies.placement.inputs import PlanInputs
from policies.placement.solvers import make_solver
from skipsim.errors import UserError

MICRO = 1e6  # objective scale: seconds -> microseconds


@dataclass(frozen=True)
class SolveStats:
    variables: int
    binaries: int
    constraints: int
    build_s: float
    solve_s: float
    status: str
    objective_s: float | None


def build_model(inputs: PlanInputs, time_cap_s: float | None = None):
    """The PuLP problem and its variables (x, z); `time_cap_s` adds B · time <= cap."""
    import pulp

    L, B = inputs.num_layers, inputs.batch
    C = [c for c in inputs.candidates if inputs.options_at(c)]
    N = [0, *C, L]
    per_visit = inputs.per_visit
    kv = inputs.kv_projection.fixed_s / B + inputs.kv_projection.per_token_s
    prob = pulp.LpProblem("placement", pulp.LpMinimize)
    Bin, Cont = pulp.LpBinary, pulp.LpContinuous
    x = {c: pulp.LpVariable(f"x_{c}", cat=Bin) for c in C}
    pairs = [(i, j) for a, i in enumerate(N) for j in N[a + 1:]]
    u = {p: pulp.LpVariable(f"u_{p[0]}_{p[1]}", cat=Bin) for p in pairs}
    out_nodes = {i: [j for a, j in pairs if a == i] for i in N}
    in_nodes = {j: [i for i, b in pairs if b == j] for j in N}
    z, terms, log_terms, bank_terms, kv_terms = {}, [], [], [], []
    w = {(0, j): pulp.LpVariable(f"w_0_{j}", 0, 1, Cont) for j in out_nodes[0]}
    run_in = {c: [] for c in C + [L]}     # run flows entering each node
    skip_in = {c: [] for c in C}          # skip flows g resuming at each checkpoint
    visits = {}
    for j, var in w.items():
        prob += var <= u[j]
        run_in[j[1]].append(var)
    prob += pulp.lpSum(w.values()) == 1

    def covers(c, layer):  # Σ_{j > layer} u_cj: the block leaving c covers `layer`
        return pulp.lpSum(u[(c, j)] for j in out_nodes[c] if j > layer)

    for c in C:
        opts = inputs.options_at(c)
        lands = sorted({land for o in opts for land, p in o.landings
                        if land < L and p * o.hit_prob > 0})
        skip_to = {land: [] for land in lands}  # skip flow with landing layer `land`
        vis, run = [], {j: [] for j in out_nodes[c]}
        by_next = {j: [] for j in out_nodes[c]}  # r_coj over o, per next checkpoint j
        for k, o in enumerate(opts):
            z[c, k] = pulp.LpVariable(f"z_{c}_{k}", cat=Bin)
            bank_terms.append(o.bank_entries * inputs.entry_bytes * z[c, k])
            if not per_visit:
                terms.append(o.lookup.fixed_s / B * z[c, k])
            visit_s = (o.lookup.fixed_s if per_visit else 0.0) + o.lookup.per_token_s
            for j in out_nodes[c]:
                # visits of c under option o whose next checkpoint is j
                v = pulp.LpVariable(f"r_{c}_{k}_{j}", 0, 1, Cont)
                prob += v <= z[c, k]
                vis.append(v)
                by_next[j].append(v)
                terms.append(visit_s * v)
                skipped = 0.0
                for land, p in o.landings:
                    a = o.hit_prob * p
                    if a <= 0.0 or land < j:  # lands inside block [c, j): runs it
                        continue
                    skipped += a
                    log_terms.append(o.log_keep * a * v)
                    if land >= L:
                        kv_terms.append((L - c) * a * v)
                    else:
                        skip_to[land].append(a * v)
                run[j].append((1.0 - skipped) * v)
        for j in out_nodes[c]:
            prob += pulp.lpSum(by_next[j]) <= u[(c, j)]
            flow = pulp.lpSum(run[j])
            fixed, per_token = inputs.block_fixed_s(j - c), inputs.block_per_token_s(j - c)
            terms.append((fixed + per_token) * flow if per_visit
                         else fixed / B * u[(c, j)] + per_token * flow)
            run_in[j].append(flow)
        for land, flows in skip_to.items():
            if not flows:
                continue
            targets = [t for t in C if c < t <= land]
            g = {t: pulp.LpVariable(f"g_{c}_{land}_{t}", 0, 1, Cont) for t in targets}
            prob += pulp.lpSum(g.values()) == pulp.lpSum(flows)
            for t, var in g.items():
                prob += var <= covers(t, land)
                kv_terms.append((t - c) * var)
                skip_in[t].append(var)
        prob += pulp.lpSum(z[c, k] for k in range(len(opts))) == x[c]
        visits[c] = pulp.lpSum(vis)
    for (_i, j), var in w.items():
        fixed, per_token = inputs.block_fixed_s(j), inputs.block_per_token_s(j)
        terms.append((fixed + per_token) * var if per_visit
                     else fixed / B * u[(0, j)] + per_token * var)
    prob += pulp.lpSum(u[(0, j)] for j in out_nodes[0]) == 1
    prob += pulp.lpSum(u[(i, L)] for i in in_nodes[L]) == 1
    for c in C:
        prob += pulp.lpSum(u[(i, c)] for i in in_nodes[c]) == x[c]
        prob += pulp.lpSum(u[(c, j)] for j in out_nodes[c]) == x[c]
        prob += visits[c] == pulp.lpSum(run_in[c]) + pulp.lpSum(skip_in[c])
    objective = pulp.lpSum(terms) + kv * pulp.lpSum(kv_terms) + inputs.head_s
    # the solver sees microseconds: in seconds the coefficients (~1e-5) sit at
    # CBC's tolerances and it stops at a plan ~1% off the optimum
    prob += MICRO * objective
    if inputs.min_agreement > 0 and log_terms:
        prob += pulp.lpSum(log_terms) >= inputs.min_log_agreement, "agreement"
    if bank_terms and math.isfinite(inputs.bank_budget_bytes):
        prob += pulp.lpSum(bank_terms) <= inputs.bank_budget_bytes, "bank_memory"
    if time_cap_s is not None:
        prob += MICRO * B * objective <= MICRO * time_cap_s, "tpot_slo"
    return prob, x, z


def solve(inputs: PlanInputs, solver: str = "cbc", time_cap_s: float | None = None,
          time_limit_s: float | None = None) -> tuple[Plan | None, SolveStats]:
    """The optimal plan, or None when the model is infeasible."""
    import pulp

    t0 = time.perf_counter()
    prob, x, z = build_model(inputs, time_cap_s)
    t1 = time.perf_counter()
    status = prob.solve(make_solver(solver, time_limit_s))
    t2 = time.perf_counter()
    name = pulp.LpStatus[status]
    if name == "Optimal" and prob.sol_status != pulp.LpSolutionOptimal:
        name = pulp.LpSolution[prob.sol_status]  # stopped by the time limit with a plan
    stats = SolveStats(prob.numVariables(), sum(1 for v in prob.variables() if v.cat == "Integer"),
                       prob.numConstraints(), t1 - t0, t2 - t1, name,
                       pulp.value(prob.objective) / MICRO if name == "Optimal" else None)
    if name == "Infeasible":
        return None, stats
    if name != "Optimal":
        raise UserError(f"the {solver} solver stopped without an optimum ({name})")
    chosen = [c for c in x if x[c].value() > 0.5]
    keys = []
    for c in chosen:
        opts = inputs.options_at(c)
        k = max(range(len(opts)), key=lambda k: z[c, k].value())
        keys.append(opts[k].key)
    return Plan((0, *chosen, inputs.num_layers), tuple(keys)), stats


@register_placement("ilp")
class ILPPlacement(Placement):
    """Minimum expected decode time per token under the agreement floor and memory."""

    def __init__(self, solver: str = "cbc"):
        self.solver = solver
        self.stats: SolveStats | None = None

    def place(self, inputs: PlanInputs) -> Plan:
        plan, self.stats = solve(inputs, self.solver)
        if plan is None:  # the no-router plan meets every constraint but memory
            raise UserError(f"no plan fits: the bank budget is "
                            f"{inputs.bank_budget_bytes / 2**30:.2f} GiB")
        return plan
