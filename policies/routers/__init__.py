"""Routers: at a checkpoint, decide from a token's hidden state whether it runs
the next block, skips to a later checkpoint, or exits to the LM head.

`base` holds the contract (`Router`, the examples it learns from, the rule that
turns scores and a threshold into decisions); `features` the context features
beyond the hidden state and `live_context` the per-sequence state a live
decode keeps for them (routers with `needs_context`); `bank` is the faiss bank of
recorded states and their safe decisions; `threshold` calibrates
per-checkpoint thresholds to a target agreement; one file per router, named
in the `ROUTERS` table below and imported on first use (probe needs sklearn,
knn faiss), so listing the names imports none of them. Routers are pure
objects (no SimPy, no model): the simulator's skip model, the offline
calibration and a real executor use them unchanged.
"""

from skipsim.registry import Registry

# `ROUTERS[name](examples) -> Router`; the names are known before the
# implementations (numpy, sklearn, faiss) are imported
ROUTERS: Registry = Registry(set_name=True, lazy={
    "never": "policies.routers.never:NeverRouter",
    "cosine": "policies.routers.cosine:CosineRouter",
    "knn": "policies.routers.knn:KnnRouter",
    "probe": "policies.routers.probe:ProbeRouter",
    "gbt": "policies.routers.learned:BoostedTreesRouter",
    "mlp": "policies.routers.learned:MLPRouter",
    "calm": "policies.routers.calm:CalmRouter",
})
register_router = ROUTERS.register

__all__ = ["ROUTERS", "Router", "SkipExamples", "decide", "register_router"]


def __getattr__(name: str):
    if name in ("Router", "SkipExamples", "decide"):  # from base, imported on first use
        from policies.routers import base

        return getattr(base, name)
    raise AttributeError(f"module 'policies.routers' has no attribute {name!r}")
