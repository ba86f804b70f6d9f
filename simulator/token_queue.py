"""One virtual queue: request index -> tokens of its pass, in entry order.

The engine moves whole batches between queues every step, so a queue takes
a batch as one numpy segment (`extend`) and hands its whole content back as
one array (`take_all`) without a Python object per member: a batch that
enters an empty queue and is served whole is never converted at all. Any
per-member operation (set, delete, pop, membership, partial batches) first
folds the segments into an insertion-ordered dict, after which the queue
behaves exactly as the plain dict it replaces (the executor uses it as one).
`TokenQueue.folds` counts the folds, so tests can hold the engine's hot
path to none (`tests/test_sim_queue_folds.py`).

Order: dict entries first, then the segments in the order they came, each in
its own order, so iteration and `take_all` give the entry order a dict
would. A request sits in at most one queue, once (`RequestTable.check_integrity`),
so no segment repeats a key. Segments are not copied: callers hand over
arrays they no longer write (every engine batch array is a fresh gather).
"""

from __future__ import annotations

import numpy as np


class TokenQueue:
    __slots__ = ("_d", "_segs", "_len", "total_tokens", "decode_only", "_views")
    # Folds of segments into the dict, over every queue of the process: a fold
    # on the engine's hot path would silently undo the batching, so the tests
    # read this count across whole simulated runs (a class attribute: bumped
    # only when segments are actually folded, never per member or per step).
    folds = 0

    def __init__(self):
        self._d: dict[int, int] = {}
        self._segs: list = []  # (ids int64 array, tokens int64 array or None: 1 each)
        self._len = 0
        self.total_tokens = 0  # sum of the members' tokens, kept as members come and go
        # True while every member came through `extend(ids)` (decode passes, one
        # token each: the engine then need not look for prefill passes among them)
        self.decode_only = True
        self._views = (_Members(self, False), _Members(self, True))

    # ------------------------------------------------------------ bulk
    def extend(self, ids: np.ndarray, tokens: np.ndarray | None = None) -> None:
        """Append the requests `ids` (int64, in order) with their passes'
        tokens (an int64 array beside ids; None: decode passes, one token each)."""
        n = len(ids)
        if not n:
            return
        self._segs.append((ids, tokens))
        self._len += n
        if tokens is None:
            self.total_tokens += n
        else:
            self.decode_only = False
            self.total_tokens += int(tokens.sum())

    def append(self, i: int, tokens: int) -> None:
        """Append request i, not in the queue, with its pass's tokens (no fold)."""
        self.extend(np.array([i], np.int64), np.array([tokens], np.int64))

    def take_all(self) -> np.ndarray:
        """Every member in entry order (int64); the queue is left empty."""
        segs, d = self._segs, self._d
        if d:
            segs.insert(0, (np.fromiter(d, np.int64, len(d)), None))
        out = segs[0][0] if len(segs) == 1 else np.concatenate([s for s, _ in segs] or
                                                               [np.zeros(0, np.int64)])
        self.clear()
        return out

    def member_views(self) -> tuple[_Members, _Members]:
        """(request ids, tokens): live read-only views in entry order that
        iterate without folding the segments (what a `QueueView` holds)."""
        return self._views

    def min_id(self) -> int:
        """The smallest member (the earliest arrival: table order is arrival order)."""
        parts = [int(s.min()) for s, _ in self._segs]
        if self._d:
            parts.append(min(self._d))
        return min(parts)

    def clear(self) -> None:
        self._d, self._segs, self._len, self.total_tokens = {}, [], 0, 0
        self.decode_only = True

    # ------------------------------------------------------------ dict view
    def _fold(self) -> dict[int, int]:
        d = self._d
        if self._segs:
            TokenQueue.folds += 1
            for ids, tokens in self._segs:
                d.update(dict.fromkeys(ids.tolist(), 1) if tokens is None
                         else zip(ids.tolist(), tokens.tolist()))
            self._segs = []
        return d

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __iter__(self):
        return iter(self._fold())

    def __contains__(self, i) -> bool:
        return i in self._fold()

    def keys(self):
        return self._fold().keys()

    def values(self):
        return self._fold().values()

    def items(self):
        return self._fold().items()

    def __getitem__(self, i: int) -> int:
        return self._fold()[i]

    def __setitem__(self, i: int, tokens: int) -> None:
        d = self._fold()
        old = d.get(i)
        if old is None:
            self._len += 1
        else:
            self.total_tokens -= old
        d[i] = tokens
        self.total_tokens += tokens
        self.decode_only = False

    def __delitem__(self, i: int) -> None:
        self.total_tokens -= self._fold().pop(i)
        self._len -= 1

    def pop(self, i: int, *default):
        d = self._fold()
        if i not in d:
            if default:
                return default[0]
            raise KeyError(i)
        self._len -= 1
        tokens = d.pop(i)
        self.total_tokens -= tokens
        return tokens

    def update(self, other) -> None:
        for i, tokens in (other.items() if isinstance(other, dict) else other):
            self[i] = tokens


class _Members:
    """The request ids (tokens=False) or token counts of a queue: sized, iterable."""

    __slots__ = ("_q", "_tokens")

    def __init__(self, queue: TokenQueue, tokens: bool):
        self._q, self._tokens = queue, tokens

    def __len__(self) -> int:
        return self._q._len

    def __iter__(self):
        q = self._q
        yield from (q._d.values() if self._tokens else q._d)
        for ids, tokens in q._segs:
            if not self._tokens:
                yield from ids.tolist()
            elif tokens is None:
                yield from [1] * len(ids)
            else:
                yield from tokens.tolist()
