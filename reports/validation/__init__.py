"""`simulate validate`: the simulator scored against the real executor.

Data flow: `config.py` (what to run) -> `real_runs.py` (executor runs, cached
by their resolved flags) -> `sim_side.py` (the simulator on the same trace and
served system, one per skip mode) -> `compare.py` (step, request and skip
errors, and the executor's run-to-run noise) -> `protocol.py` (capacity,
loads, policies, modes; `refit.py`: the cost model refitted on one load's
runs, scored on the others) -> `report.py` (table, validation.json) and
`page.py` (the self-contained HTML page).
"""
