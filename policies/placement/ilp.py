"""The placement ILP (PuLP): routers, operating points and bank sizes in one model.

Sets. L layers; candidate checkpoints C (layers 0 < c < L with measured
router options); at c ∈ C the options O(c) (a calibrated operating point
with a bank size: hit probability h_o, landing distribution π_o(ℓ) over
layers ℓ ∈ (c, L], ℓ = L an exit, error probability e_o, bank entries E_o,
lookup time); B the operating batch size; R_c = the furthest landing short
of L of c's options, minus c (0 if none), D = max_c R_c + 1.

The state graph (the plan as a path). Node (k, d): the path runs layer k
and its last boundary (0 or a checkpoint) is layer k - d, for d < D; d = D:
D or more layers back. From (k, d) an arc goes to (k+1, 0) when k+1 ∈ C
(k+1 becomes a checkpoint) and to (k+1, min(d+1, D)) (it passes); layer L-1
goes to END. A plan is one path from (0, 0) to END; the graph has
O(L·D) nodes, where pairs of checkpoints would need O(L²) arcs.

Decision variables (continuous in [0, 1] unless said).
  x_c   binary   c ∈ C is a checkpoint (a router and a bank) = the path flow into (c, 0)
  z_co  binary   router c runs option o; Σ_o z_co = x_c
  y_a            path flow on arc a: one unit from (0, 0), conserved at every node.
                 With x whole, y is the path (each checkpoint carries the unit), so
                 y needs no integrality; y through node (ℓ, ℓ - t) says "t is the
                 deepest checkpoint at or before ℓ" and the arc from
                 (j-1, j-1-c) into (j, 0) says "j is the checkpoint after c"
  m_a, p_a       token mass (tokens per decode token) and its share-weighted mass
                 (the token's share sigma of its group's fixed costs, `inputs.py`,
                 `evaluate.py`) running arc a's tail layer: m_a, p_a <= y_a
  r_coj, q_coj   visits of router c (mass, share-weighted) under option o whose
                 next checkpoint is j: j ∈ C ∩ (c, c + R_c], j = L when c + R_c >= L,
                 else FAR (beyond c + R_c: every landing short of L falls inside the
                 block). r_coj = rho_c · z_co · [next is j], linearised by
                 Σ_j r_coj <= z_co and Σ_o r_coj <= n_cj, n_cj the path flow that says
                 j is next (for FAR: through (c + R_c, R_c)), and B q_coj >= r_coj
                 (no share is below 1/B: a valid cut). Exact with x whole: rho_c <= 1,
                 one (o, j) is on, conservation pins the value. Knowing j makes the
                 simulator's landing rule linear: a hit landing at ℓ < j runs the block.
  g_cℓt, h_cℓt   skip mass (and share-weighted) from c landing at ℓ < L that resumes
                 at t ∈ C ∩ (c, ℓ], the deepest checkpoint at or before ℓ (as
                 `simulator/skip_models/measured.py` maps landings):
                 g_cℓt, h_cℓt <= y through node (ℓ, ℓ - t)

Flows (per decode token). With a = h_o π_o(ℓ) and s(a) = (1 - (1-a)^B) / (B a)
the share of a token that skips that way (`inputs.departure_share`):
  skips       a · r_coj for ℓ >= j (ℓ = L: an exit), share-weighted s(a) · a · r_coj
              (the token joins its new group); Σ_t g_cℓt = Σ_oj a r_coj and
              Σ_t h_cℓt = Σ_oj s(a) a r_coj
  stayers     Σ_oj (1 - s_oj) r_coj and Σ_oj (1 - s_oj^B) q_coj leave (c, 0) on its
              arcs (mass, share-weighted; s_oj = Σ_{ℓ >= j} a: the group's next step
              runs when anyone of it stays, `inputs.stay_factor`); those of class j
              ∈ C are the mass (and share) on the arc from (j-1, j-1-c) into (j, 0)
  passing     at a node (k, d >= 1) mass and share-weighted mass in = out
  start       (0, 0) sends mass 1 and share-weighted mass 1/B
  routers     Σ_oj r_coj = mass on the arcs into (c, 0) + Σ g_·,·,c; the same for q, p, h

Objective (seconds per decode token at batch B; every fixed part × share-
weighted mass, every per-token part × mass; lf/lp the layer's fixed and
per-token parts, ov the step overhead, lkf/lkp the lookup's, kvf/kvp those of
the K/V projection of one skipped layer, lmf/lmp those of the LM head, head the
prefill share):
  Σ_a [lp m_a + lf p_a] + ov Σ_{a leaving a (c, 0) or (0, 0)} p_a
  + Σ_coj [lkf_o q_coj + lkp_o r_coj] + Σ_cℓt (t - c)[kvf h_cℓt + kvp g_cℓt]
  + Σ_coj,exits (L - c)(kvf s(a) + kvp) a r_coj
  + lmf (Σ_{a into END} p_a + Σ exits s(a) a r_coj) + lmp + head
This is `evaluate.py`'s sum for the plan the path spells: a block [c, j) is
its arcs' layers, paid per layer on the arcs, its step overhead on the arc
leaving (c, 0). At B = 1 every share is 1 (p = m, q = r, h = g) and this is
the batch-1 chain exactly; at B > 1 the group shares are the approximation
`evaluate.py` states.

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

Solving (`ilp_solve.py`). CBC (one thread, zero gaps) starts from the plan of a local search
(`incumbent.py`) as its incumbent, with the feasibility pump, the other
heuristics and the cut rounds off (`solvers.py`).
`benchmarks/bench_plan.py` gives the times and the root gap.

The relaxation is weak where the token mass is below 1: the products path
flow × mass are linearised by m_a <= y_a and Σ_o r_coj <= n_cj with the only
bounds the mass has (0 and 1), so at a fork of the state graph the LP splits
the mass out of proportion to the path flows and sends the tokens left
through whichever fractional routers suit them. At L = 80 the root gap is
1.3% at B = 1 and 3.6% at B = 16 (`bench_plan.py`); CBC's cut generators find
no cuts for it. Bounding the share-weighted flows by the mass (m/B <= p <= m,
valid as every share lies in [1/B, 1]) halves the gap of the two slowest
L = 30, B = 16 instances without shortening their solves, and with q <= r and
the skip shares' bounds too one instance took 44 s instead of 0.5 s; the
model leaves those rows out. The gap is in the checkpoint choice x alone:
with x fixed at the best plan found, the relaxation lies 0.06% below it
(L = 80, B = 1, random seed 1; 3.5% with x free). There the LP runs 6.93
layers per token against the plan's 7.45 by landing 0.69 skips per token
against 0.43, at checkpoints that exist only fractionally. Letting each
router's visitors follow one path for its landing reach (one flow per
option from (c, 0), tying its next-checkpoint class to its resume points)
took that gap only to 2.8% and made the L = 30, B = 16 solves twice as
slow, so the model leaves it out. Every measured profile keeps the token
mass near 1 (skips are rare and exits rarer), where m <= y is nearly tight:
the instances `simulate plan` builds from them solve in at most 0.45 s
(`bench_plan.py`); the random instances that lose half their tokens by
layer 6 are the slow ones.

Second objective (`throughput`): for each batch size B the KV cache admits,
minimise the time per token with B · time <= the TPOT SLO; the best 1/time
over B wins (`workflow.best_throughput`).
"""

from __future__ import annotations

import math

from policies.placement.inputs import PlanInputs

MICRO = 1e6  # objective scale: seconds -> microseconds
FAR = "far"  # a next checkpoint beyond the furthest landing short of L
END = "end"  # the state graph's sink: past the last layer


def build_model(inputs: PlanInputs, time_cap_s: float | None = None):
    """The PuLP problem and its variables (x, z); `time_cap_s` adds B · time <= cap."""
    import pulp

    L, B = inputs.num_layers, inputs.batch
    C = [c for c in inputs.candidates if inputs.options_at(c)]
    shared = B > 1  # at B = 1 the share-weighted flows are the flows themselves
    kvf, kvp = inputs.kv_projection.fixed_s, inputs.kv_projection.per_token_s
    prob = pulp.LpProblem("placement", pulp.LpMinimize)
    var = pulp.LpVariable
    reach = {c: max([land - c for o in inputs.options_at(c) for land, p in o.landings
                     if land < L and p * o.hit_prob > 0], default=0) for c in C}
    far_d = max(reach.values(), default=0) + 1
    # the state graph: node (k, d) = a token path runs layer k, its last boundary at
    # k - d (d <= far_d - 1) or further back (d = far_d); END after layer L - 1
    is_cp = set(C)
    out_arcs: dict = {(0, 0): []}
    in_arcs: dict = {(0, 0): []}
    for k in range(L):
        for d in sorted(dd for kk, dd in out_arcs if kk == k):
            succ = ([END] if k + 1 == L else
                    ([(k + 1, 0)] if k + 1 in is_cp else []) + [(k + 1, min(d + 1, far_d))])
            for nxt in succ:
                out_arcs[k, d].append(nxt)
                if nxt != END:
                    out_arcs.setdefault(nxt, [])
                    in_arcs.setdefault(nxt, []).append((k, d))
    arcs = [(n, t) for n, ts in out_arcs.items() for t in ts]
    y = {a: var(f"y_{a[0][0]}_{a[0][1]}_{a[1][0] if a[1] != END else 'end'}_"
                f"{a[1][1] if a[1] != END else ''}", 0, 1, pulp.LpContinuous) for a in arcs}
    m = {a: var("m" + y[a].name[1:], 0, 1, pulp.LpContinuous) for a in arcs}
    ps = {a: var("p" + y[a].name[1:], 0, 1, pulp.LpContinuous) for a in arcs} if shared else m
    x = {c: var(f"x_{c}", cat=pulp.LpBinary) for c in C}
    z: dict = {}
    obj: dict = {}
    logs: dict = {}
    bank: dict = {}
    head_share: dict = {}

    def add(d, v, coef):
        d[v] = d.get(v, 0.0) + coef

    def lin(d, const=0.0):
        return pulp.LpAffineExpression(d, constant=const)

    def outflow(node, flow, coef=1.0):
        return {flow[(node, t)]: coef for t in out_arcs[node]}

    def through(node):  # path flow through a node
        return lin(outflow(node, y))

    for node, succ in out_arcs.items():
        k, d = node
        if node == (0, 0):
            prob += lin(outflow(node, y)) == 1
            prob += lin(outflow(node, m)) == 1
            if shared:
                prob += lin(outflow(node, ps)) == inputs.first_share
        else:
            ins = in_arcs[node]
            prob += lin(outflow(node, y) | {y[(i, node)]: -1.0 for i in ins}) == 0
            if d == 0:
                prob += lin({y[(i, node)]: 1.0 for i in ins} | {x[k]: -1.0}) == 0
            else:  # a layer inside a block: the tokens pass
                prob += lin(outflow(node, m) | {m[(i, node)]: -1.0 for i in ins}) == 0
                if shared:
                    prob += lin(outflow(node, ps) | {ps[(i, node)]: -1.0 for i in ins}) == 0
        for t in succ:
            a = (node, t)
            prob += m[a] <= y[a]
            if shared:
                prob += ps[a] <= y[a]
            if t == END:
                add(head_share, ps[a], 1.0)
        # layer k: per-token part × mass, fixed part × share-weighted mass; a block
        # step starts at a boundary (its overhead)
        for t in succ:
            add(obj, m[(node, t)], inputs.layer.per_token_s)
            add(obj, ps[(node, t)], inputs.layer.fixed_s
                + (inputs.step_overhead_s if d == 0 else 0.0))

    skip_in = {c: ({}, {}) for c in C}  # skip mass (g) and share-weighted (h) landing at c
    routers = {}
    for c in C:
        opts = inputs.options_at(c)
        near = [j for j in C if c < j <= c + reach[c]]
        # the router's view of the next checkpoint j: each near one, L, or FAR (beyond
        # its furthest landing short of L: only the exits skip); its indicator is a
        # path flow of the state graph
        ind = {j: y[((j - 1, j - 1 - c), (j, 0))] for j in near}
        if c + reach[c] >= L:
            ind[L] = y[((L - 1, L - 1 - c), END)]
        else:
            ind[FAR] = through((c + reach[c], reach[c]))
        cls = {j: ({}, {}) for j in ind}       # Σ_o r, Σ_o q per class
        stay_m = {j: {} for j in ind}           # the class's stayers (mass, share)
        stay_s = {j: {} for j in ind}
        visits, svisits = {}, {}
        skip_to: dict = {}
        for k, o in enumerate(opts):
            z[c, k] = var(f"z_{c}_{k}", cat=pulp.LpBinary)
            add(bank, z[c, k], o.bank_entries * inputs.entry_bytes)
            per_opt, per_opt_s = {z[c, k]: -1.0}, {z[c, k]: -1.0}
            for j in ind:
                r = var(f"r_{c}_{k}_{j}", 0, 1, pulp.LpContinuous)
                if shared:
                    q = var(f"q_{c}_{k}_{j}", 0, 1, pulp.LpContinuous)
                    prob += B * q >= r  # valid: no share falls below 1/B; tightens the LP
                else:
                    q = r
                per_opt[r] = per_opt_s[q] = 1.0
                cls[j][0][r] = cls[j][1][q] = 1.0
                visits[r] = svisits[q] = 1.0
                add(obj, r, o.lookup.per_token_s)
                add(obj, q, o.lookup.fixed_s)
                first_skip = L if j == FAR else j  # landings at or past it skip
                skipped = 0.0
                for land, p in o.landings:
                    a = o.hit_prob * p
                    if a <= 0.0 or land < first_skip:  # inside the block: runs it
                        continue
                    skipped += a
                    share = inputs.departure_share(a)
                    add(logs, r, o.log_keep * a)
                    if land >= L:
                        add(obj, r, (L - c) * (kvp + share * kvf) * a)
                        add(head_share, r, share * a)
                    else:
                        gm, gs = skip_to.setdefault(land, ({}, {}))
                        add(gm, r, a)
                        add(gs, r, share * a)
                add(stay_m[j], r, 1.0 - skipped)
                add(stay_s[j], q, inputs.stay_factor(skipped))
            prob += lin(per_opt) <= 0  # visits under option k only when it runs
            if shared:
                prob += lin(per_opt_s) <= 0
        prob += lin({z[c, k]: 1.0 for k in range(len(opts))} | {x[c]: -1.0}) == 0
        for j, indicator in ind.items():
            prob += lin(cls[j][0]) <= indicator
            if shared:
                prob += lin(cls[j][1]) <= indicator
        # the stayers run block [c, ...): all of them leave the router's node; those
        # of class j (near) enter j's router from the state (j - 1, j - 1 - c)
        all_m = {v: a for j in ind for v, a in stay_m[j].items()}
        all_s = {v: a for j in ind for v, a in stay_s[j].items()}
        prob += lin(outflow((c, 0), m) | {v: -a for v, a in all_m.items()}) == 0
        if shared:
            prob += lin(outflow((c, 0), ps) | {v: -a for v, a in all_s.items()}) == 0
        for j in near:
            arc = ((j - 1, j - 1 - c), (j, 0))
            prob += lin({m[arc]: 1.0} | {v: -a for v, a in stay_m[j].items()}) == 0
            if shared:
                prob += lin({ps[arc]: 1.0} | {v: -a for v, a in stay_s[j].items()}) == 0
        for land, (gm, gs) in skip_to.items():
            # resumes at t, the deepest checkpoint at or before `land`: the path
            # passes state (land, land - t)
            targets = [t for t in C if c < t <= land]
            g = {t: var(f"g_{c}_{land}_{t}", 0, 1, pulp.LpContinuous) for t in targets}
            h = ({t: var(f"h_{c}_{land}_{t}", 0, 1, pulp.LpContinuous) for t in targets}
                 if shared else g)
            prob += lin({g[t]: 1.0 for t in targets} | {v: -a for v, a in gm.items()}) == 0
            if shared:
                prob += lin({h[t]: 1.0 for t in targets}
                            | {v: -a for v, a in gs.items()}) == 0
            for t in targets:
                cover = through((land, land - t))
                prob += g[t] <= cover
                if shared:
                    prob += h[t] <= cover
                add(obj, g[t], (t - c) * kvp)
                add(obj, h[t], (t - c) * kvf)
                skip_in[t][0][g[t]] = 1.0
                skip_in[t][1][h[t]] = 1.0
        routers[c] = visits, svisits
    for c in C:  # router visits: run into c, or skipped to it
        visits, svisits = routers[c]
        ins = in_arcs[(c, 0)]
        prob += lin(visits | {m[(i, (c, 0))]: -1.0 for i in ins}
                    | {v: -1.0 for v in skip_in[c][0]}) == 0
        if shared:
            prob += lin(svisits | {ps[(i, (c, 0))]: -1.0 for i in ins}
                        | {v: -1.0 for v in skip_in[c][1]}) == 0
    for v, coef in head_share.items():
        add(obj, v, inputs.lm_head.fixed_s * coef)
    objective = lin(obj, inputs.head_s + inputs.lm_head.per_token_s)
    # the solver sees microseconds: in seconds the coefficients (~1e-5) sit at
    # CBC's tolerances and it stops at a plan ~1% off the optimum
    prob += MICRO * objective
    if inputs.min_agreement > 0 and logs:
        prob += lin(logs) >= inputs.min_log_agreement, "agreement"
    if bank and math.isfinite(inputs.bank_budget_bytes):
        prob += lin(bank) <= inputs.bank_budget_bytes, "bank_memory"
    if time_cap_s is not None:
        prob += MICRO * B * objective <= MICRO * time_cap_s, "tpot_slo"
    return prob, x, z
