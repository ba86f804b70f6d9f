"""Routers: at a checkpoint, decide from a token's hidden state whether it runs
the next block, skips to a later checkpoint, or exits to the LM head.

`base` holds the contract (`Router`, the examples it learns from, the rule that
turns scores and a threshold into decisions) and the registry; `bank` is the
faiss bank of recorded states and their safe decisions; `threshold` calibrates
per-checkpoint thresholds to a target agreement; one file per router. Routers
are pure objects (no SimPy, no model): the simulator's skip model, the offline
calibration and a real executor use them unchanged.
"""

from policies.routers.base import ROUTERS, Router, SkipExamples, decide, register_router
from policies.routers import never, cosine, knn, probe, learned, calm  # noqa: F401  (register)

__all__ = ["ROUTERS", "Router", "SkipExamples", "decide", "register_router"]
