"""KV pages as the run sees them: free and used pages of the runner's paged
cache, and the time-weighted utilisation the summary reports.

The runner owns the pages (`allocate`/`free` per request); this reads its
allocator's counts after every step and integrates used pages over wall time
(a step's pages are counted from its end until the next step ends).
"""

from __future__ import annotations


class KVAccount:
    def __init__(self, runner):
        self.pages = runner.allocator  # the runner's page allocator (skipsim.kv_pages)
        self.capacity_blocks = int(self.pages.capacity_blocks)
        self.block_tokens = int(self.pages.block_tokens)
        self.peak_used = 0
        self._page_seconds = 0.0
        self._last_s = 0.0
        self._last_used = 0

    @property
    def free_blocks(self) -> int:
        return self.capacity_blocks - self.pages.used

    def blocks_for(self, tokens: int) -> int:
        return -(-int(tokens) // self.block_tokens)

    def sample(self, now_s: float) -> None:
        self._page_seconds += self._last_used * (now_s - self._last_s)
        self._last_s, self._last_used = now_s, int(self.pages.used)
        self.peak_used = max(self.peak_used, self._last_used)

    def mean_utilisation(self, end_s: float) -> float:
        self.sample(end_s)
        return self._page_seconds / (end_s * self.capacity_blocks) if end_s > 0 else 0.0
