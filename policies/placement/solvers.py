"""MILP solvers for the placement ILP, by name.

`cbc` is the COIN-OR CBC binary bundled with PuLP (always there); `highs`
is HiGHS through `highspy` (`pip install highspy`). Both run on one thread
with zero optimality gaps, so a solve returns the optimum. PuLP is imported here, inside
the factories, never when the CLI parses its arguments.
"""

from __future__ import annotations

from collections.abc import Callable

from skipsim.errors import UserError
from skipsim.registry import registrar

SOLVERS: dict[str, Callable[..., object]] = {}
register_solver = registrar(SOLVERS)


@register_solver("cbc")
def cbc_solver(time_limit_s: float | None = None, warm_start: bool = False):
    import pulp

    # gaps at zero: the tests compare the optimum with exact search. The feasibility
    # pump spends seconds on these models without finding the plan a warm start
    # brings; with that plan as the cutoff, CBC's other heuristics and its cut rounds
    # cost more than they prune (bench_plan.py, L = 30, B = 16: 0.4-0.5 s against
    # 0.8-1.1 s with them)
    options = ["feas off"] + (["heur off", "cuts off"] if warm_start else [])
    return pulp.PULP_CBC_CMD(msg=False, threads=1, timeLimit=time_limit_s, gapRel=0.0,
                             gapAbs=0.0, warmStart=warm_start, options=options)


@register_solver("highs")
def highs_solver(time_limit_s: float | None = None, warm_start: bool = False):
    try:
        import highspy  # noqa: F401
    except ImportError:
        raise UserError("--solver highs needs the highspy package (pip install highspy)") from None
    import pulp

    # HiGHS stops at a 1e-4 relative gap by default: ask for the optimum
    return pulp.HiGHS(msg=False, timeLimit=time_limit_s, threads=1, gapRel=0.0, gapAbs=0.0,
                      warmStart=warm_start)


def make_solver(name: str, time_limit_s: float | None = None, warm_start: bool = False):
    """`warm_start`: start from the variables' initial values (`setInitialValue`)."""
    if name not in SOLVERS:
        raise UserError(f"unknown solver {name!r}: use one of {', '.join(sorted(SOLVERS))}")
    return SOLVERS[name](time_limit_s, warm_start)
