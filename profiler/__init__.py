"""Measurements on the device at hand: per-layer kernel and bank-lookup
timings, the cost model fitted to them, and skip calibration on the real model.

Empty until the profiler issue lands.
"""
