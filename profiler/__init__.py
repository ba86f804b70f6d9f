"""Measurements on the device at hand: per-layer kernel and bank-lookup
timings, the cost model fitted to them, and skip calibration on the real model.

`cost_model.py` is the contract (`CostModel`, `COST_MODELS`); `roofline.py`
is the analytic stand-in over the device table in `devices.py`.
"""
