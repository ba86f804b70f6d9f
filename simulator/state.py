"""Request and sequence state, column-wise (index = position in the trace).

A request is waiting (arrived, not admitted), running (holds KV, its
current pass sits in one virtual queue or is in flight), or done. A pass is
one prefill chunk or one decode token travelling through the blocks;
the queue it sits in is that of the block it runs next. A queue is a dict
request index -> tokens of its pass, in entry order. After a preemption the
request re-prefills prompt + generated tokens
(recompute), so `prefill_target` grows past the prompt.

Layout: every per-request column is a numpy array of length n (int64 for
counts and token numbers, float64 for times and agreement), so the engine
reads and updates a batch's rows with one fancy-indexed operation per column
(`ids` an int64 array of table indices), never a Python loop over the batch.
Only the set-like state stays in Python containers: `prefilling` (a set),
`waiting` (a deque) and the queues (`TokenQueue`s: batches enter and leave
them as arrays, and they act as insertion-ordered dicts for per-request use).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from simulator.token_queue import TokenQueue
from traces.trace import Trace


class RequestTable:
    def __init__(self, trace: Trace, num_queues: int):
        n = len(trace)
        self.n = n
        self.request_id = trace.request_id.copy()
        self.arrival_s = trace.arrival_time_s.copy()
        self.prompt = trace.prompt_tokens.copy()
        self.output = trace.output_tokens.astype(np.int64)
        self.generated = np.zeros(n, np.int64)
        self.prefill_target = self.prompt.copy()
        self.prefilled = np.zeros(n, np.int64)
        self.chunk = np.zeros(n, np.int64)  # tokens of the current pass
        # tokens whose K/V a decode pass needs: prompt + generated
        self.ctx = self.prompt.astype(np.int64)
        self.prefilling: set[int] = set()  # running requests whose prefill is unfinished
        self.admit_seq = np.full(n, -1, np.int64)  # admission order (latest is preempted first)
        self.running = np.zeros(n, bool)
        self.done = np.zeros(n, bool)
        self.first_token_s = np.full(n, np.nan)
        self.finish_s = np.full(n, np.nan)
        # per-pass accumulators, folded into the totals when the pass emits a
        # token (a decode pass runs every layer it does not skip: its layers
        # executed are num_layers - pass_skipped, so they need no accumulator)
        self.pass_skipped = np.zeros(n, np.int64)
        self.pass_agree = np.ones(n)  # product of (1 - p_change) over this pass's hits
        self.layers_executed = np.zeros(n, np.int64)
        self.layers_skipped = np.zeros(n, np.int64)
        self.lookups = np.zeros(n, np.int64)
        self.lookup_time_s = np.zeros(n)
        self.hits = np.zeros(n, np.int64)
        self.exits = np.zeros(n, np.int64)
        self.preemptions = np.zeros(n, np.int64)
        self.agree_sum = np.zeros(n)
        self.waiting: deque[int] = deque()
        self.queues: list[TokenQueue] = [TokenQueue() for _ in range(num_queues)]

    def enqueue(self, i: int, queue: int) -> None:
        """Put request i (in no queue, its pass not in flight) in `queue`."""
        self.queues[queue].append(i, int(self.chunk[i]))

    def start_prefill_pass(self, i: int, chunk_limit: int | None) -> None:
        """Put request i's next prefill chunk in queue 0 (it is in no queue)."""
        left = int(self.prefill_target[i] - self.prefilled[i])
        self.chunk[i] = size = min(left, chunk_limit) if chunk_limit else left
        self.queues[0].append(i, size)

    def admit(self, i: int, seq: int, chunk_limit: int | None) -> None:
        """Request i (its KV just allocated) joins the running batch as
        admission number `seq`; its (next) prefill pass enters queue 0."""
        self.running[i] = True
        self.admit_seq[i] = seq
        self.prefilling.add(i)
        self.start_prefill_pass(i, chunk_limit)

    def preempt(self, v: int) -> None:
        """Request v (its KV just freed) goes back to the head of the waiting
        line; re-admitted, it recomputes prompt + generated tokens (vLLM's
        recompute)."""
        self.dequeue(v)
        self.pass_skipped[v] = 0
        self.pass_agree[v] = 1.0
        self.running[v] = False
        self.preemptions[v] += 1
        self.prefill_target[v] = self.prompt[v] + self.generated[v]
        self.prefilled[v] = 0
        self.prefilling.discard(v)
        self.waiting.appendleft(v)

    def dequeue(self, i: int) -> None:
        for q in self.queues:
            q.pop(i, None)

    def check_integrity(self) -> None:
        queued = [i for q in self.queues for i in q]
        assert len(queued) == len(set(queued)), "a request sits in two queues"
        assert not np.any(self.running & self.done), "a finished request still runs"
        generated = self.generated
        assert np.all(generated <= self.output), "more tokens generated than requested"
        assert np.array_equal(self.ctx, self.prompt + generated), "context drifted"
        assert all(self.running[i] for i in queued), "a queued request is not running"
        assert all(self.prefilled[i] < self.prefill_target[i] for i in self.prefilling)
