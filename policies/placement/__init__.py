"""Checkpoint placement: which layers get a router, at which operating point,
with how big a bank, chosen by an ILP (PuLP) and cross-checked by exact search.

Data flow: `measure.py` turns measurements (a cost model, a SkipProfile, the
workload and the memory split) into `PlanInputs` (`inputs.py`);
`evaluate.py` prices any plan by plain arithmetic (at batch B > 1 a token
that skips leaves its group and shares its steps with fewer tokens: the
share-weighted flow the docstrings of `inputs.py` and `evaluate.py` state);
`batch.py` finds each plan's own operating batch by Little's law; `ilp.py`
builds the ILP (the model is written out in its docstring) and `ilp_solve.py`
solves it; `dp.py` and `exhaustive.py` find the best plan by exact search
to prove the ILP right; `base.py` holds the contract with the `manual` and
`uniform` baselines; `stages.py` picks the GPU count
(pipeline stages) of a model too big for one GPU and runs a plan on them;
`plan_file.py` reads and writes `plan.json`; `cli.py` is `simulate plan`.
"""
