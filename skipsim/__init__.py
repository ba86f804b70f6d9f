"""skipsim's shared core: the one CLI (`simulate`), the user-facing error type,
the cache folder, and the model: its architecture numbers (`ModelSpec`, used
by cost models and KV sizing) and the loader of the real weights.

The data flow lives in the sibling packages: `traces/` → `simulator/` with
`policies/`, fed by `profiler/`; `reports/` sweeps and draws.
"""

__version__ = "0.1.0"
