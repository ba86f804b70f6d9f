"""Every layer's K/V of every request, in fixed-size pages (PagedAttention,
Kwon et al., SOSP 2023), with the simulator's allocator doing the accounting.

Storage: K and V are [L, num_pages, page_tokens, Hkv, hd] tensors allocated
once; a request owns a list of page ids (its block table) and position p of
it lives in row `pages[p // T] * T + p % T` of every layer. Page counts,
capacity, utilisation and the block tables come from `PagedKVTable`, the
simulator's allocator with page ids (`skipsim/kv_pages.py`), so both agree
on when the cache is full and which pages a request holds.

Holes: a row of a layer a token skipped is marked in `state` [L, rows]
(int8: 0 = a real K/V row, HOLE = masked out for good, OWED = masked out
until repaired). Attention masks every marked row; freeing a request clears
its marks, so a reused page never inherits holes.
"""

from __future__ import annotations

import time

import torch

from skipsim.kv_pages import PagedKVTable

HOLE, OWED = 1, 2


class PagedKVStore:
    def __init__(self, num_layers: int, num_pages: int, page_tokens: int, kv_heads: int,
                 head_dim: int, device, dtype):
        if num_pages < 1 or page_tokens < 1:
            raise ValueError("a KV store needs at least one page of at least one token")
        self.num_layers, self.num_pages, self.page_tokens = num_layers, num_pages, page_tokens
        shape = (num_layers, num_pages, page_tokens, kv_heads, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        rows = num_pages * page_tokens
        # Views used by the runner: rows for scattering one token's K/V,
        # pages for gathering a request's context in page-sized chunks.
        self.k_rows = self.k.view(num_layers, rows, kv_heads, head_dim)
        self.v_rows = self.v.view(num_layers, rows, kv_heads, head_dim)
        self.k_pages = self.k.view(num_layers, num_pages, -1)
        self.v_pages = self.v.view(num_layers, num_pages, -1)
        self.state = torch.zeros(num_layers, rows, device=device, dtype=torch.int8)
        self.marked = [0] * num_layers  # marked rows per layer (0: no mask needed)
        self.allocator = PagedKVTable(num_pages, page_tokens, 0)
        self.pages = self.allocator.pages  # block table of each request (empty: none held)
        self.tokens: dict[int, int] = {}  # positions written per request (max + 1)
        t0 = time.perf_counter()
        # Seconds on the run's clock, for the allocator's time-weighted
        # utilisation; a serving loop sets its own (default: since creation).
        self.clock = lambda: time.perf_counter() - t0

    # -- pages -------------------------------------------------------------
    def _now(self) -> float:
        return self.clock()

    def allocate(self, req: int, num_tokens: int) -> bool:
        """Grow request `req` to hold `num_tokens` positions; False (nothing
        changes) when the cache has too few free pages."""
        held = self.allocator.held
        if req >= len(held):  # request ids are not known up front: grow the tables
            grow = req + 1 - len(held)
            held.extend([0] * grow)
            self.pages.extend([] for _ in range(grow))
        return self.allocator.allocate(req, num_tokens, self._now())

    def free(self, req: int) -> None:
        if req >= len(self.pages):
            return
        pages = list(self.pages[req])
        self.tokens.pop(req, None)
        self.allocator.free(req, self._now())
        if pages and any(self.marked):
            rows = self.rows_of_pages(torch.tensor(pages, device=self.state.device))
            cleared = (self.state[:, rows] != 0).sum(1).tolist()
            self.state[:, rows] = 0
            self.marked = [m - c for m, c in zip(self.marked, cleared)]

    @property
    def free_pages(self) -> int:
        return self.allocator.free_blocks

    def rows_of_pages(self, pages: torch.Tensor) -> torch.Tensor:
        T = self.page_tokens
        return (pages[:, None] * T + torch.arange(T, device=pages.device)).flatten()

    # -- addressing ----------------------------------------------------------
    def slots(self, reqs: list[int], positions: list[int]) -> list[int]:
        """Row of each (request, position); the position must be allocated."""
        T = self.page_tokens
        pages = self.pages
        try:
            out = [pages[r][p // T] * T + p % T for r, p in zip(reqs, positions)]
        except IndexError:
            bad = [(r, p) for r, p in zip(reqs, positions)
                   if r >= len(pages) or p // T >= len(pages[r])]
            raise ValueError(f"(request, position) {bad[0]} has no KV page: "
                             "allocate first") from None
        tokens = self.tokens
        for r, p in zip(reqs, positions):
            if p >= tokens.get(r, 0):
                tokens[r] = p + 1
        return out

    def context_pages(self, reqs: list[int], spans: list[int]) -> torch.Tensor:
        """[B, max pages] page ids covering the first spans[b] positions of
        each request, padded with page 0 (padding is masked by position)."""
        T = self.page_tokens
        need = [-(-s // T) for s in spans]
        width = max(need)
        table = [self.pages[r][:n] + [0] * (width - n) for r, n in zip(reqs, need)]
        return torch.tensor(table, device=self.k.device)

    # -- holes ---------------------------------------------------------------
    def mark(self, layers: range, slots: torch.Tensor, kind: int) -> None:
        for layer in layers:
            before = int((self.state[layer, slots] != 0).sum())
            self.state[layer, slots] = kind
            self.marked[layer] += len(slots) - before

    def unmark(self, layer: int, slots: torch.Tensor) -> None:
        if self.marked[layer]:
            self.marked[layer] -= int((self.state[layer, slots] != 0).sum())
            self.state[layer, slots] = 0

    def count(self, kind: int) -> int:
        return int((self.state == kind).sum())

    # -- checks --------------------------------------------------------------
    def check_integrity(self) -> None:
        self.allocator.check_integrity()
        assert self.pages is self.allocator.pages, "the block tables were replaced"
        assert self.marked == (self.state != 0).sum(1).tolist(), "hole counts drifted"
        T = self.page_tokens
        live = torch.zeros(self.state.shape[1], dtype=torch.bool, device=self.state.device)
        for r, pages in enumerate(self.pages):
            n = self.tokens.get(r, 0) if pages else 0
            rows = [pg * T + t for i, pg in enumerate(pages) for t in range(T) if i * T + t < n]
            live[rows] = True
        marked = self.state != 0
        assert not (marked & ~live).any(), "a hole mark outside any request's written rows"
        real = live & ~marked  # [L, rows]: rows attention may read
        for name, store in (("K", self.k_rows), ("V", self.v_rows)):
            vals = store[:, live]  # [L, n, Hkv, hd]
            ok = torch.isfinite(vals).flatten(2).all(-1) | ~real[:, live]
            assert ok.all(), f"non-finite {name} in a row attention reads"
