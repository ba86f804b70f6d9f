"""The no-skip baseline: vLLM-style iteration-level continuous batching.

Routers are off, so every token runs every block; serving the deepest queue
first carries each iteration's batch through all blocks in lock-step before
the next iteration admits new requests at block 0, which is exactly one
vLLM model step per pass (Yu et al., "Orca", OSDI 2022; vLLM's scheduler).
"""

from policies.schedulers.base import register_scheduler
from policies.schedulers.deepest_first import DeepestFirst


@register_scheduler("no-skip")
class NoSkip(DeepestFirst):
    uses_router = False
