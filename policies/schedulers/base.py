"""The scheduling contract: at each step, which queue to serve and whom to batch.

A scheduler sees plain data only (`QueueView`s and a `StepState`), never the
simulator's SimPy objects, so the real executor can call the same object.
Queue i (0 <= i < num_blocks) holds the requests whose current token must run
block i next; queue num_blocks holds tokens that exited early and wait only
for the LM head (used when lookups run off the GPU). Requests appear in each
queue in the order they entered it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from typing import NamedTuple

from skipsim.errors import UserError
from skipsim.registry import registrar


class QueueView(NamedTuple):
    """One queue, read-only. request_ids and tokens are sized iterables in
    queue-entry order (a tuple, or a live read-only view of the simulator's
    queue, valid during `select`: iterate them, do not index them)."""

    block: int  # queue index; == num_blocks for the LM-head queue
    request_ids: Collection[int]
    tokens: Collection[int]  # tokens each request adds to a batch (prefill chunk or 1)
    oldest_arrival_s: float  # earliest request arrival among the members; nan unless
    # the scheduler sets `reads_arrival` (finding it costs a scan of the queue per step)
    known_total_tokens: int | None = None  # sum(tokens) where the caller keeps it

    @property
    def total_tokens(self) -> int:
        known = self.known_total_tokens
        return sum(self.tokens) if known is None else known


class StepState(NamedTuple):
    now_s: float
    num_blocks: int
    last_block: int | None  # queue served by the previous step of this GPU
    max_num_seqs: int  # most requests in one batch
    max_batched_tokens: int  # most tokens in one batch


class Selection(NamedTuple):
    block: int
    request_ids: Collection[int]  # a tuple, or the queue's own request_ids when all fit


class Scheduler(ABC):
    """Picks a non-empty queue and a batch from it. `uses_router = False`
    turns the routers off (every token runs every layer); `reads_arrival =
    True` asks for `QueueView.oldest_arrival_s`."""

    name = "abstract"
    uses_router = True
    reads_arrival = False

    @abstractmethod
    def choose_queue(self, queues: list[QueueView], step: StepState) -> QueueView:
        """One of `queues` (all non-empty)."""

    def select(self, queues: list[QueueView], step: StepState) -> Selection | None:
        """The next step's queue and batch, or None when every queue is empty."""
        busy = [q for q in queues if q.request_ids]
        if not busy:
            return None
        queue = self.choose_queue(busy, step)
        return Selection(queue.block, fill_batch(queue, step))


def fill_batch(queue: QueueView, step: StepState) -> Collection[int]:
    """Members in queue order while the batch stays within max_num_seqs and
    max_batched_tokens (a prefill chunk that does not fit waits; the first
    member is always taken, so every step makes progress). When everyone
    fits, the queue's own `request_ids` (not copied: the caller takes the
    whole queue); else a tuple."""
    ids, toks = queue.request_ids, queue.tokens
    if len(ids) <= step.max_num_seqs and queue.total_tokens <= step.max_batched_tokens:
        return ids  # everyone fits
    chosen, tokens = [], 0
    for rid, n in zip(ids, toks):
        if len(chosen) == step.max_num_seqs:
            break
        if chosen and tokens + n > step.max_batched_tokens:
            continue
        chosen.append(rid)
        tokens += n
    return tuple(chosen)


SCHEDULERS: dict[str, Callable[[], Scheduler]] = {}


register_scheduler = registrar(SCHEDULERS, set_name=True)


def make_scheduler(name: str) -> Scheduler:
    if name not in SCHEDULERS:
        raise UserError(f"unknown policy {name!r}: use one of {', '.join(sorted(SCHEDULERS))}")
    return SCHEDULERS[name]()
