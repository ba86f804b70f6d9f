"""The repair debt of the `repair` KV-hole policy: skipped layers owed by
tokens, settled later in batched recompute steps.

A skip owes its span (the simulator keys spans by their layer count, which
is all the cost model reads; an executor by the layer range it must rerun)
for a batch of requests, with each request's admission number at the time.
`settle` drains the debt grouped by span, in the order spans were first
owed, and drops the tokens of requests preempted or finished since (their
K/V are gone: a re-admitted request has a new admission number, and its
recompute prefill runs full depth). Plain data: no clock, no SimPy.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

import numpy as np


class OwedSpan(NamedTuple):
    span: Hashable  # layer count (simulator) or layer range (executor)
    ids: np.ndarray  # request indices
    positions: np.ndarray | None  # token positions of the holes, where the caller keeps them


class RepairDebt:
    def __init__(self):
        self._owed: list[tuple] = []  # (span, ids, admit_seq at the skip, positions | None)
        self.tokens = 0  # owed tokens, those of since-dead requests included until settled

    def owe(self, span: Hashable, ids: np.ndarray, admit_seq: np.ndarray,
            positions: np.ndarray | None = None) -> None:
        self._owed.append((span, ids, admit_seq, positions))
        self.tokens += len(ids)

    def due(self, batch_tokens: int, idle: bool) -> bool:
        """Repair now: `batch_tokens` are owed, or something is owed and the
        device has nothing else to run."""
        return self.tokens > 0 and (self.tokens >= batch_tokens or idle)

    def settle(self, running: np.ndarray, admit_seq: np.ndarray) -> list[OwedSpan]:
        """Drain the debt: per span, the tokens whose request still runs the
        admission that skipped (`running`, `admit_seq`: current, per request)."""
        spans: dict = {}
        for span, ids, seq, positions in self._owed:
            live = running[ids] & (admit_seq[ids] == seq)
            spans.setdefault(span, []).append((ids[live], None if positions is None
                                               else positions[live]))
        self._owed, self.tokens = [], 0
        return [OwedSpan(span, np.concatenate([i for i, _ in parts]),
                         None if parts[0][1] is None else np.concatenate([p for _, p in parts]))
                for span, parts in spans.items()]

    def check_integrity(self) -> None:
        assert self.tokens == sum(len(ids) for _, ids, _, _ in self._owed), "owed count drifted"
        for _, ids, seq, positions in self._owed:
            assert len(seq) == len(ids), "an admission number per owed token"
            assert positions is None or len(positions) == len(ids), "a position per owed token"
