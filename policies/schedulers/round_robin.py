"""Round robin: serve the next non-empty queue after the one served last."""

from policies.schedulers.base import Scheduler, register_scheduler


@register_scheduler("round-robin")
class RoundRobin(Scheduler):
    def choose_queue(self, queues, step):
        last = -1 if step.last_block is None else step.last_block
        span = step.num_blocks + 1  # block queues + the LM-head queue
        return min(queues, key=lambda q: (q.block - last - 1) % span)
