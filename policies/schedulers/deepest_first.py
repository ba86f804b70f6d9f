"""Deepest first: serve the deepest non-empty queue, so tokens already in
flight finish (and free their KV and batch slots) before new work starts."""

from policies.schedulers.base import Scheduler, register_scheduler


@register_scheduler("deepest-first")
class DeepestFirst(Scheduler):
    def choose_queue(self, queues, step):
        return max(queues, key=lambda q: q.block)
