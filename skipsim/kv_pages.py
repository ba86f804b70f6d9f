"""A paged KV cache (vLLM's PagedAttention, Kwon et al., SOSP 2023): every
request holds ceil(tokens / block_tokens) fixed-size blocks; a request's
K/V for all layers lives in its blocks (skipped layers keep their slots, the
KV-hole policy decides what is written there).

`PagedKVCache` keeps counts only (what the simulator needs): `allocate`
grows a request to a token count, `free` returns its blocks. `PagedKVTable`
is the same allocator with block tables (which physical pages each request
holds, as the real executor indexes its K/V tensors), so both run out of
memory, preempt and report utilisation identically. Utilisation is
integrated over time (simulated or wall-clock seconds) for the
time-weighted mean. Shared by the simulator and the executor.
"""

from __future__ import annotations


class PagedKVCache:
    def __init__(self, capacity_blocks: int, block_tokens: int, num_requests: int):
        self.capacity_blocks = int(capacity_blocks)
        self.block_tokens = int(block_tokens)
        self.held = [0] * num_requests  # blocks per request (a list: read per token)
        self.used = 0
        self.peak_used = 0
        self._block_seconds = 0.0
        self._last_s = 0.0

    def blocks_for(self, tokens: int) -> int:
        return -(-int(tokens) // self.block_tokens)

    @property
    def free_blocks(self) -> int:
        return self.capacity_blocks - self.used

    def _advance(self, now_s: float) -> None:
        self._block_seconds += self.used * (now_s - self._last_s)
        self._last_s = now_s

    def allocate(self, rid: int, tokens: int, now_s: float) -> bool:
        """Grow request `rid` to hold `tokens` tokens; False (nothing changes) if full."""
        extra = self.blocks_for(tokens) - int(self.held[rid])
        if extra <= 0:
            return True
        if extra > self.free_blocks:
            return False
        self._advance(now_s)
        self.held[rid] += extra
        self.used += extra
        self.peak_used = max(self.peak_used, self.used)
        return True

    def grow_many(self, rids: list[int], extra_blocks: list[int], now_s: float) -> None:
        """Add `extra_blocks[n]` blocks (when positive) to request rids[n];
        the caller checked they are free."""
        held, total = self.held, 0
        for rid, extra in zip(rids, extra_blocks):
            if extra > 0:
                held[rid] += extra
                total += extra
        if total == 0:
            return
        assert total <= self.free_blocks, "grow_many past capacity"
        self._advance(now_s)
        self.used += total
        self.peak_used = max(self.peak_used, self.used)

    def free(self, rid: int, now_s: float) -> None:
        self._advance(now_s)
        self.used -= self.held[rid]
        self.held[rid] = 0

    def mean_utilisation(self, end_s: float) -> float:
        self._advance(end_s)
        return self._block_seconds / (end_s * self.capacity_blocks) if end_s > 0 else 0.0

    def check_integrity(self) -> None:
        assert self.used == sum(self.held), "block count drifted from the per-request sum"
        assert 0 <= self.used <= self.capacity_blocks, "more blocks in use than exist"
        assert min(self.held, default=0) >= 0, "a request holds a negative block count"


class PagedKVTable(PagedKVCache):
    """`PagedKVCache` with block tables: request r's token at position p lives
    in page pages[r][p // block_tokens], row p % block_tokens. Freed pages are
    reused lowest first."""

    def __init__(self, capacity_blocks: int, block_tokens: int, num_requests: int):
        super().__init__(capacity_blocks, block_tokens, num_requests)
        self._free_pages = list(range(self.capacity_blocks - 1, -1, -1))  # a stack: pop = lowest
        self.pages: list[list[int]] = [[] for _ in range(num_requests)]

    def _take(self, rid: int) -> None:
        """Give request rid pages up to its held count."""
        table, free = self.pages[rid], self._free_pages
        for _ in range(self.held[rid] - len(table)):
            table.append(free.pop())

    def allocate(self, rid: int, tokens: int, now_s: float) -> bool:
        if not super().allocate(rid, tokens, now_s):
            return False
        self._take(rid)
        return True

    def grow_many(self, rids: list[int], extra_blocks: list[int], now_s: float) -> None:
        super().grow_many(rids, extra_blocks, now_s)
        for rid in rids:
            self._take(rid)

    def free(self, rid: int, now_s: float) -> None:
        super().free(rid, now_s)
        self._free_pages.extend(self.pages[rid])
        self._free_pages.sort(reverse=True)
        self.pages[rid] = []

    def slots(self, rid: int, positions) -> list[int]:
        """Physical row (page * block_tokens + offset) of each token position
        of request rid (positions it holds pages for)."""
        table, n = self.pages[rid], self.block_tokens
        return [table[p // n] * n + p % n for p in positions]

    def check_integrity(self) -> None:
        super().check_integrity()
        held = [p for table in self.pages for p in table]
        assert [len(t) for t in self.pages] == self.held, "a block table disagrees with its count"
        assert len(set(held)) == len(held), "a page is held twice"
        assert sorted(held + self._free_pages) == list(range(self.capacity_blocks)), \
            "pages lost or invented"
