"""Largest queue: serve the queue with the most waiting tokens (the biggest
batch, so weights are read for the most tokens); ties go to the deeper one."""

from policies.schedulers.base import Scheduler, register_scheduler


@register_scheduler("largest-queue")
class LargestQueue(Scheduler):
    def choose_queue(self, queues, step):
        return max(queues, key=lambda q: (q.total_tokens, q.block))
