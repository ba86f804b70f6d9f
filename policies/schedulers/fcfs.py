"""First come, first served: serve the queue holding the earliest-arrived request."""

from policies.schedulers.base import Scheduler, register_scheduler


@register_scheduler("fcfs")
class FCFS(Scheduler):
    reads_arrival = True

    def choose_queue(self, queues, step):
        # ties (same arrival time) go to the shallower queue: the order requests entered
        return min(queues, key=lambda q: (q.oldest_arrival_s, q.block))
