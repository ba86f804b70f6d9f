"""Preemption: when a running request's next token needs a KV block and none
is free, whom to evict.

vLLM (recompute mode) evicts the latest-admitted runnable request, repeating
until the block fits; the grower itself may be the victim. A victim gives
back all its KV and returns to the head of the waiting line; re-admitted,
it re-prefills prompt + generated tokens at full depth (vLLM's `RECOMPUTE`,
Kwon et al., SOSP 2023, §4.5). Runnable means not in flight: a request whose
pass is inside a running step cannot be evicted mid-step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence

from skipsim.kv_pages import PagedKVCache


class PreemptionPolicy(ABC):
    @abstractmethod
    def victim(self, candidates: Iterable[int], admit_seq: Sequence[int]) -> int:
        """One of `candidates` (request indices, at least one) to evict;
        `admit_seq[i]` is request i's admission number (later = larger)."""

    def make_room(self, kv: PagedKVCache, rid: int, tokens: int, now_s: float,
                  runnable: Callable[[], list[int]], admit_seq: Sequence[int],
                  evict: Callable[[int], None]) -> bool:
        """Grow request `rid` to `tokens` tokens of KV, evicting victims among
        `runnable()` + [rid] (asked afresh after each eviction; `evict(v)`
        must free v's blocks) until it fits. False when rid itself was evicted."""
        while not kv.allocate(rid, tokens, now_s):
            v = self.victim(runnable() + [rid], admit_seq)
            evict(v)
            if v == rid:
                return False
        return True


class LatestAdmitted(PreemptionPolicy):
    """vLLM's choice: the candidate admitted last (last in, first out)."""

    def victim(self, candidates: Iterable[int], admit_seq: Sequence[int]) -> int:
        return max(candidates, key=admit_seq.__getitem__)
