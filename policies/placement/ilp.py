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
  r_coj ∈ [0,1] expected visits of checkpoint c by a token (tokens per decode
                token), under option o, with j the next checkpoint:
                r_coj = rho_c · z_co · u_cj, linearised by r_coj <= z_co and
                Σ_o r_coj <= u_cj (exact: rho_c <= 1 and at most one (o, j) is on,
                the value is pinned by the conservation equality). Knowing j makes
                the simulator's landing rule linear: a hit landing at layer ℓ < j
                runs block [c, j) anyway.
  q_coj ∈ [0,1] the same visits weighted by the token's group share sigma
                (`inputs.py`, `evaluate.py`): q_coj = phi_c · z_co · u_cj, linearised
                the same way
  w_0j ∈ [0,1]  probability that a token runs the first block [0, j) (share 1/B)
  g_cℓc', h_cℓc' >= 0  skip mass (g) and its share-weighted mass (h) from c landing
                at layer ℓ < L that resumes at the checkpoint c' ∈ (c, ℓ] whose block
                covers ℓ (the deepest checkpoint at or before ℓ, as
                `simulator/skip_models/measured.py` maps landings)

Flows (per decode token). With a = h_o π_o(ℓ) and s(a) the share of a token
that skips that way, s(a) = (1 - (1-a)^B) / (B a) (`inputs.departure_share`):
  skip mass   a · r_coj for ℓ >= j (ℓ = L: an exit); its share-weighted mass
              s(a) · a · r_coj (the token joins its new group)
  run         W_cj = Σ_o (1 - s_oj) r_coj,  V_cj = Σ_o (1 - s_oj^B) q_coj through
              block [c, j), s_oj = Σ_{ℓ >= j} a (the group's next step runs when
              anyone of it stays: `inputs.stay_factor`)
  routing     Σ_{c'} g_cℓc' = Σ_oj a r_coj,  Σ_{c'} h_cℓc' = Σ_oj s(a) a r_coj,
              g_cℓc', h_cℓc' <= Σ_{j > ℓ} u_c'j
  first       Σ_j w_0j = 1,  w_0j <= u_0j,  W_0j = w_0j,  V_0j = w_0j / B
  conservation at c': Σ_oj r_c'oj = Σ_c W_cc' + Σ_{c,ℓ} g_cℓc'  (W_0c' included),
                      Σ_oj q_c'oj = Σ_c V_cc' + Σ_{c,ℓ} h_cℓc'

Structure. Σ_j u_0j = 1 = Σ_i u_iL; Σ_i u_ic = x_c = Σ_j u_cj;
Σ_o z_co = x_c.

Objective (seconds per decode token at batch B; every fixed part × share-
weighted mass, every per-token part × mass; F(n) = n·layer_fixed + step
overhead and P(n) = n·layer_per_token for an n-layer block, lf/lp the
lookup's fixed and per-query parts, kvf/kvp those of the K/V projection of one
skipped layer, lmf/lmp those of the LM head, head the prefill share):
  Σ_ij [F(j-i) V_ij + P(j-i) W_ij] + Σ_coj [lf_o q_coj + lp_o r_coj]
  + Σ_cℓc' (c' - c) [kvf h_cℓc' + kvp g_cℓc'] + Σ_coj,exits (L - c)(kvf s(a) + kvp) a r_coj
  + lmf (Σ_i V_iL + Σ exits s(a) a r_coj) + lmp + head
At B = 1 every share is 1 and this is the batch-1 chain exactly; at B > 1 the
group shares are the approximation `evaluate.py` states.

Units: times in seconds (the solver sees microseconds), flows in tokens per
decode token, memory in bytes. Head includes each request's prefill spread
over its output tokens (plan-independent, `measure.py`).

Constraints.
  agreement   Σ_coj log(1 - e_o) Σ_ℓ a r_coj >= log(floor): E[Σ log keep] is
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
FAR = "far"  # a next checkpoint beyond the furthest landing short of L


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
    first = inputs.first_share
    shared = B > 1  # at B = 1 the share-weighted flows are the flows themselves
    kvf, kvp = inputs.kv_projection.fixed_s, inputs.kv_projection.per_token_s
    prob = pulp.LpProblem("placement", pulp.LpMinimize)
    Bin, Cont = pulp.LpBinary, pulp.LpContinuous
    x = {c: pulp.LpVariable(f"x_{c}", cat=Bin) for c in C}
    pairs = [(i, j) for a, i in enumerate(N) for j in N[a + 1:]]
    # u is continuous: with x whole, every checkpoint passes the one unit of arc flow,
    # so the arcs on are the consecutive pairs
    u = {p: pulp.LpVariable(f"u_{p[0]}_{p[1]}", 0, 1, Cont) for p in pairs}
    out_nodes = {i: [j for a, j in pairs if a == i] for i in N}
    in_nodes = {j: [i for i, b in pairs if b == j] for j in N}
    z, terms, log_terms, bank_terms = {}, [], [], []
    w = {(0, j): pulp.LpVariable(f"w_0_{j}", 0, 1, Cont) for j in out_nodes[0]}
    # inflows of each node: mass (run and skip) and share-weighted mass
    mass_in = {c: [] for c in C}
    share_in = {c: [] for c in C}
    head_share = []                       # share-weighted mass reaching the LM head
    visits, share_visits = {}, {}
    for (_, j), var in w.items():
        prob += var <= u[(0, j)]
        (head_share if j == L else share_in[j]).append(first * var)
        if j < L:
            mass_in[j].append(var)
        terms.append((inputs.block_per_token_s(j) + first * inputs.block_fixed_s(j)) * var)
    prob += pulp.lpSum(w.values()) == 1

    def covers(c, layer):  # Σ_{j > layer} u_cj = x_c - Σ_{j <= layer} u_cj: the block
        # leaving c covers `layer` (the short sum: a landing is a few layers past c)
        return x[c] - pulp.lpSum(u[(c, j)] for j in out_nodes[c] if j <= layer)

    for c in C:
        opts = inputs.options_at(c)
        lands = sorted({land for o in opts for land, p in o.landings
                        if land < L and p * o.hit_prob > 0})
        skip_to = {land: ([], []) for land in lands}  # (mass, share) skipping to `land`
        # the next checkpoint j matters to the router only up to its furthest landing
        # short of L: every j beyond it (FAR) skips the same landings (the exits)
        reach = c + max([land - c for land in lands], default=0)
        near = [j for j in out_nodes[c] if j <= reach]
        far = [j for j in out_nodes[c] if j > reach]
        nexts = near + ([FAR] if far else [])
        vis, svis = [], []
        run = {j: ([], []) for j in nexts}
        by_next = {j: ([], []) for j in nexts}  # r_coj, q_coj over o, per next j
        for k, o in enumerate(opts):
            z[c, k] = pulp.LpVariable(f"z_{c}_{k}", cat=Bin)
            bank_terms.append(o.bank_entries * inputs.entry_bytes * z[c, k])
            per_opt, per_opt_s = [], []
            for j in nexts:
                # visits of c under option o whose next checkpoint is j: mass r and
                # share-weighted mass q
                r = pulp.LpVariable(f"r_{c}_{k}_{j}", 0, 1, Cont)
                if shared:
                    q = pulp.LpVariable(f"q_{c}_{k}_{j}", 0, 1, Cont)
                    prob += B * q >= r  # valid: no share falls below 1/B; tightens the LP
                else:  # B = 1: every share is 1, q = r
                    q = r
                per_opt.append(r)
                per_opt_s.append(q)
                vis.append(r)
                svis.append(q)
                by_next[j][0].append(r)
                by_next[j][1].append(q)
                terms.append(o.lookup.per_token_s * r + o.lookup.fixed_s * q)
                first_skip = L if j == FAR else j  # landings at or past it skip
                skipped = 0.0
                for land, p in o.landings:
                    a = o.hit_prob * p
                    if a <= 0.0 or land < first_skip:  # lands inside block [c, j): runs it
                        continue
                    skipped += a
                    share = inputs.departure_share(a)
                    log_terms.append(o.log_keep * a * r)
                    if land >= L:
                        terms.append((L - c) * (kvp + share * kvf) * a * r)
                        head_share.append(share * a * r)
                    else:
                        skip_to[land][0].append(a * r)
                        skip_to[land][1].append(share * a * r)
                run[j][0].append((1.0 - skipped) * r)
                run[j][1].append(inputs.stay_factor(skipped) * q)
            # one (o, j) at most is on: visits under o only when o runs (valid, tighter
            # than r_coj <= z_co each)
            prob += pulp.lpSum(per_opt) <= z[c, k]
            if shared:
                prob += pulp.lpSum(per_opt_s) <= z[c, k]
        for j in nexts:
            arcs = far if j == FAR else [j]
            cap = pulp.lpSum(u[(c, t)] for t in arcs)
            prob += pulp.lpSum(by_next[j][0]) <= cap
            if shared:
                prob += pulp.lpSum(by_next[j][1]) <= cap
            flow, sflow = pulp.lpSum(run[j][0]), pulp.lpSum(run[j][1])
            if len(arcs) > 1:  # the FAR stayers: routed onto the arc that is on
                f = {t: pulp.LpVariable(f"f_{c}_{t}", 0, 1, Cont) for t in arcs}
                v = ({t: pulp.LpVariable(f"v_{c}_{t}", 0, 1, Cont) for t in arcs}
                     if shared else f)
                prob += pulp.lpSum(f.values()) == flow
                if shared:
                    prob += pulp.lpSum(v.values()) == sflow
                for t in arcs:
                    prob += f[t] <= u[(c, t)]
                    if shared:
                        prob += v[t] <= u[(c, t)]
                        prob += B * v[t] >= f[t]
                legs = [(t, f[t], v[t]) for t in arcs]
            else:
                legs = [(arcs[0], flow, sflow)]
            for t, fl, sfl in legs:
                terms.append(inputs.block_per_token_s(t - c) * fl
                             + inputs.block_fixed_s(t - c) * sfl)
                if t == L:
                    head_share.append(sfl)
                else:
                    mass_in[t].append(fl)
                    share_in[t].append(sfl)
        for land, (flows, sflows) in skip_to.items():
            if not flows:
                continue
            # g: the skip mass resuming at checkpoint t (the one whose block covers
            # `land`); h: its share-weighted mass, routed the same way
            targets = [t for t in C if c < t <= land]
            g = {t: pulp.LpVariable(f"g_{c}_{land}_{t}", 0, 1, Cont) for t in targets}
            h = ({t: pulp.LpVariable(f"h_{c}_{land}_{t}", 0, 1, Cont) for t in targets}
                 if shared else g)
            prob += pulp.lpSum(g.values()) == pulp.lpSum(flows)
            if shared:
                prob += pulp.lpSum(h.values()) == pulp.lpSum(sflows)
            for t in targets:
                cov = covers(t, land)
                prob += g[t] <= cov
                if shared:
                    prob += h[t] <= cov
                terms.append((t - c) * (kvp * g[t] + kvf * h[t]))
                mass_in[t].append(g[t])
                share_in[t].append(h[t])
        prob += pulp.lpSum(z[c, k] for k in range(len(opts))) == x[c]
        visits[c], share_visits[c] = pulp.lpSum(vis), pulp.lpSum(svis)
    prob += pulp.lpSum(u[(0, j)] for j in out_nodes[0]) == 1
    prob += pulp.lpSum(u[(i, L)] for i in in_nodes[L]) == 1
    for c in C:
        prob += pulp.lpSum(u[(i, c)] for i in in_nodes[c]) == x[c]
        prob += pulp.lpSum(u[(c, j)] for j in out_nodes[c]) == x[c]
        prob += visits[c] == pulp.lpSum(mass_in[c])
        if shared:
            prob += share_visits[c] == pulp.lpSum(share_in[c])
    terms.append(inputs.lm_head.fixed_s * pulp.lpSum(head_share))
    objective = pulp.lpSum(terms) + inputs.head_s + inputs.lm_head.per_token_s
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
