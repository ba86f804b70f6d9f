"""Solving the placement ILP (`ilp.py` builds it): the warm start, the solver
call, the plan read back, and the `ilp` placement.

CBC (one thread, zero gaps) starts from the plan of a local search
(`incumbent.py`); `SolveStats` keeps the model's size and where the time
went, which `simulate plan` prints and `benchmarks/bench_plan.py` times.
With a time limit a solve that has not proved its plan optimal by then
returns the best plan found with the LP relaxation's optimum beside it: the
plan is at most (time - bound) / bound above the optimum. The relaxation
bounds the optimum from below, but loosely where the token mass falls far
below 1 (`ilp.py`), so the figure overstates the true distance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from policies.placement.base import Placement, Plan, register_placement
from policies.placement.ilp import MICRO, build_model
from policies.placement.incumbent import local_search
from policies.placement.inputs import PlanInputs
from policies.placement.solvers import make_solver
from skipsim.errors import UserError


@dataclass(frozen=True)
class SolveStats:
    variables: int
    binaries: int
    constraints: int
    build_s: float                # building the PuLP model
    solve_s: float                # the solver (wall)
    status: str
    objective_s: float | None
    start_s: float = 0.0          # the local search for the warm start (`incumbent.py`)
    bound_s: float | None = None  # stopped by the time limit: the relaxation's optimum

    @property
    def proved(self) -> bool:
        return self.status == "Optimal" and self.bound_s is None

    def gap_note(self, limit_s: float | None) -> str:
        """'' for a proved optimum, else one line saying how far the plan may be off."""
        if self.proved or self.objective_s is None:
            return ""
        gap = 100 * (self.objective_s - self.bound_s) / self.bound_s
        return (f"the ILP stopped at the time limit ({limit_s:g} s) with its best plan, not "
                f"proved optimal: at most {gap:.2f}% above the optimum (the LP relaxation's "
                f"bound {self.bound_s * 1e3:.4f} ms per token); raise --time-limit to prove it")


def relaxation_s(inputs: PlanInputs, time_cap_s: float | None = None) -> float | None:
    """The optimum of the LP relaxation in seconds per token (a lower bound on the
    ILP's), or None when even the relaxation is infeasible."""
    import pulp

    prob, _, _ = build_model(inputs, time_cap_s)
    prob.solve(pulp.PULP_CBC_CMD(msg=False, mip=False))
    if pulp.LpStatus[prob.status] != "Optimal":
        return None
    return pulp.value(prob.objective) / MICRO


def solve(inputs: PlanInputs, solver: str = "cbc", time_cap_s: float | None = None,
          time_limit_s: float | None = None,
          start: Plan | None = None) -> tuple[Plan | None, SolveStats]:
    """The optimal plan, or None when the model is infeasible. The solver starts from
    the local search's plan (`incumbent.py`), seeded with `start` when given (the
    batch fixed point passes its previous plan). Stopped by `time_limit_s` with a
    plan: that plan, its stats carrying the relaxation's bound (`SolveStats.gap_note`)."""
    import pulp

    t0 = time.perf_counter()
    prob, x, z = build_model(inputs, time_cap_s)
    t1 = time.perf_counter()
    seed = local_search(inputs, (start,) if start is not None else ())
    warm = seed is not None and (time_cap_s is None
                                 or inputs.batch * seed[1] <= time_cap_s)
    if warm:
        on = dict(zip(seed[0].routers, seed[0].option_keys))
        for c in x:
            x[c].setInitialValue(int(c in on))
        for (c, k), v in z.items():
            v.setInitialValue(int(on.get(c) == inputs.options_at(c)[k].key))
    t2 = time.perf_counter()
    status = prob.solve(make_solver(solver, time_limit_s, warm_start=warm))
    t3 = time.perf_counter()
    name = pulp.LpStatus[status]
    if name == "Optimal" and prob.sol_status != pulp.LpSolutionOptimal:
        name = pulp.LpSolution[prob.sol_status]  # stopped by the time limit with a plan
    stopped = (name != "Optimal" and time_limit_s is not None
               and prob.sol_status == pulp.LpSolutionIntegerFeasible)
    stats = SolveStats(prob.numVariables(), sum(1 for v in prob.variables() if v.cat == "Integer"),
                       prob.numConstraints(), t1 - t0, t3 - t2, name,
                       pulp.value(prob.objective) / MICRO if name == "Optimal" or stopped
                       else None, t2 - t1,
                       relaxation_s(inputs, time_cap_s) if stopped else None)
    if name == "Infeasible":
        return None, stats
    if name != "Optimal" and not stopped:
        raise UserError(f"the {solver} solver stopped without an optimum or a plan ({name})"
                        + (f" within --time-limit {time_limit_s:g} s" if time_limit_s else ""))
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
