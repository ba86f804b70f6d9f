"""Measurements on the device at hand and the cost models built on them.

Data flow: `grid` (what to measure) -> `layer_profile` + `lookup_profile`
(timed with `timing` on the device `hardware` resolves; `record` walks the
grid) -> `profile_table` (CSV/Parquet + JSON metadata on disk) -> `fit` /
`fit_profile` (forms and held-out error) -> `fitted` (the "measured"
`CostModel` the simulator uses by default; `resolve` picks a cost model by
name or path) -> `show` / `cli` (`simulate profile`). `cost_model` is the
contract shared with the simulator; `roofline` is the analytic stand-in for
models and devices never measured, over the device table in `devices`;
`profiles/` holds the committed measured profiles.
"""
