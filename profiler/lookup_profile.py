"""Timing bank lookups as the executor makes them: the whole routing decision.

A lookup row is the time of `executor.routing.checkpoint_decision`, the
function a real run times as its lookup: gather the states of the tokens at
a checkpoint, the knn router's decision (`executor.routers.RouterSkipMode`:
the copy of the queries to the host, the faiss search of the k nearest bank
entries, their similarity-weighted vote on each candidate landing, the
threshold) and the decisions' bookkeeping. Timing the faiss search alone
priced the executor's lookups 87-90% too low (validate's step level on the
2-core Xeon, the search a third of the decision at small banks).

A bank holds unit vectors of the model's hidden size (inner product on unit
vectors is the router's cosine similarity), with random safety labels on
`landings` candidate landings. The vectors are random Gaussian directions:
a flat scan costs the same whatever the data, while IVF-PQ and HNSW visit
more candidates on such unstructured data than on real hidden states, so
their times here are on the pessimistic side. The executor's banks are flat
(`policies.routers.bank`); the IVF-PQ and HNSW rows swap the bank's index
for that kind (a what-if). The threshold never fires, so every call does the
same work. Each call is timed with cold caches (`measure(before=...)`
streams `evict_bytes` first), as in a run, where a lookup follows a block
of layers that streamed their weights and K/V through the caches: timed
warm, the decision over a 372-entry bank took 0.05-0.14 ms of CPU; after
64 MB were streamed 0.69-0.84 ms, and in the executor's run 0.81 ms
(2-core Xeon, one thread).

On a CUDA device the flat and IVF-PQ banks move to the GPU when faiss was
built with GPU support (as the executor moves them); otherwise (and always
for HNSW, which faiss has only on the CPU) the decision includes the copies
of the queries to the host. The copy rows (copy_d2h, copy_h2d) are timed
too, for inspection: the cost model does not add them to a decision's time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from policies.routers.knn import K_NEIGHBOURS
from profiler.cold_cache import cache_evictor
from profiler.grid import ProfileGrid
from profiler.timing import Clock, Timing, measure

# what a lookup row times, in the profile's metadata: a profile without it
# timed the faiss search alone (the cost model then adds the host copies)
LOOKUP_TIMED = "routing decision (executor.routing.checkpoint_decision, knn router)"


@dataclass(frozen=True)
class IndexSettings:
    """Build and search parameters (faiss's names), recorded in the profile."""

    k: int = K_NEIGHBOURS  # the knn router's neighbours
    landings: int = 3  # candidate landings per checkpoint (the calibration default's)
    evict_bytes: int = 64 << 20  # streamed before each timed lookup: a few layers' weights
    hnsw_m: int = 32
    hnsw_ef_construction: int = 40
    hnsw_ef_search: int = 64
    pq_subquantizers: int = 48  # 576 / 48 = 12 dimensions per code byte
    pq_bits: int = 8
    ivf_nprobe: int = 16
    ivf_max_lists: int = 1024
    ivf_train_points: int = 16_384
    train_iterations: int = 10  # k-means passes for the coarse and PQ codebooks

    def nlist(self, entries: int) -> int:
        """IVF lists: ~4 sqrt(N) (faiss's guideline) with >= 39 training points each."""
        train = min(entries, self.ivf_train_points)
        return int(max(4, min(self.ivf_max_lists, 4 * math.sqrt(entries), train // 39)))


def unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def build_index(kind: str, bank: np.ndarray, settings: IndexSettings, rng: np.random.Generator):
    import faiss

    n, dim = bank.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
    elif kind == "ivfpq":
        nlist = settings.nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, settings.pq_subquantizers,
                                 settings.pq_bits, faiss.METRIC_INNER_PRODUCT)
        train = bank[rng.choice(n, size=min(n, settings.ivf_train_points), replace=False)]
        for cp in (index.cp, index.pq.cp):
            cp.niter = settings.train_iterations
            cp.min_points_per_centroid = 1  # small banks: fewer points than faiss likes
        index.train(train)
        index.nprobe = min(settings.ivf_nprobe, nlist)
    else:
        raise ValueError(kind)
    index.add(bank)
    return index


def _row(component: str, timing: Timing, *, index: str, where: str, entries: int,
         queries: int) -> dict:
    return {"component": component, "index": index, "where": where,
            "bank_entries": entries, "num_queries": queries, "median_s": timing.median_s,
            "p10_s": timing.p10_s, "p90_s": timing.p90_s, "repeats": timing.repeats,
            "inner": timing.inner}


def count_points(grid: ProfileGrid) -> int:
    return sum(len(grid.bank_sizes_for(k)) for k in grid.index_kinds)


def knn_decision(kind: str, bank: np.ndarray, settings: IndexSettings, device: str,
                 rng: np.random.Generator, at: int = 1):
    """The executor's router skip mode over one knn router at checkpoint `at`
    whose bank holds `bank` (searched by an index of `kind`), never firing,
    and where its bank was searched ("cpu" or "gpu")."""
    from executor.routers import RouterSkipMode
    from policies.routers.base import SkipExamples
    from policies.routers.knn import KnnRouter

    n, dim = bank.shape
    m = settings.landings
    # the knn vote reads the labels only; the deltas (the delta action's) are never read
    examples = SkipExamples(at, tuple(range(at + 1, at + 1 + m)), bank, np.zeros(n), np.zeros(n),
                            rng.random((n, m)) < 0.5,
                            np.broadcast_to(np.zeros((1, 1, dim), np.float32), (n, m, dim)),
                            np.zeros(n, np.int64))
    router = KnnRouter(examples, k=settings.k)
    if kind != "flat":
        router.bank.index = build_index(kind, bank, settings, rng)
    on = device if kind != "hnsw" else "cpu"  # faiss has HNSW on the CPU only
    mode = RouterSkipMode({at: router}, {at: float("inf")}, {at: 0.0}, "identity", on, kind)
    return mode, "gpu" if on != "cpu" and not mode.host_copies else "cpu"


def profile_lookups(grid: ProfileGrid, device: str, dim: int,
                    settings: IndexSettings = IndexSettings(), seed: int = 0,
                    progress: Callable[[str], None] = lambda label: None) -> list[dict]:
    """Lookup rows (component "lookup": the routing decision) and, on CUDA, the copy rows."""
    import torch

    from executor.routing import checkpoint_decision

    rng = np.random.default_rng(seed)
    cpu_clock, cfg = Clock("cpu"), grid.timing
    gen = torch.Generator(device=device).manual_seed(seed)
    states = {q: torch.randn(q, dim, generator=gen, device=device) for q in grid.query_batches}
    rows: list[dict] = []
    on_cuda = device.startswith("cuda")
    evict = cache_evictor(settings.evict_bytes, device)
    if on_cuda:
        rows += _copy_rows(grid, device, dim, settings.k)
    for kind in grid.index_kinds:
        for n in grid.bank_sizes_for(kind):
            progress(f"{kind} bank {n:,}: build")
            mode, where = knn_decision(kind, unit_vectors(n, dim, rng), settings, device, rng)
            clock = Clock(device) if on_cuda else cpu_clock
            progress(f"{kind} bank {n:,}: decide")
            for q, h in states.items():
                idx = torch.arange(q, device=device)
                ids, toks = np.arange(q), np.zeros(q, np.int64)
                decisions: deque = deque(maxlen=1)  # its appends are timed, not its memory
                t = measure(partial(checkpoint_decision, mode, 1, h, None, idx, ids, toks, None,
                                    decisions), clock, cfg, before=evict)
                rows.append(_row("lookup", t, index=kind, where=where, entries=n, queries=q))
            del mode
    return rows


def _copy_rows(grid: ProfileGrid, device: str, dim: int, k: int) -> list[dict]:
    """Queries (q x dim float32) device->host; ids and scores (q x k) host->device."""
    import torch

    clock, rows = Clock(device), []
    for q in grid.query_batches:
        on_dev = torch.randn(q, dim, device=device)
        ids = torch.zeros(q, k, dtype=torch.int64).pin_memory()
        scores = torch.zeros(q, k).pin_memory()
        d2h = measure(lambda: on_dev.to("cpu"), clock, grid.timing)
        h2d = measure(lambda: (ids.to(device, non_blocking=True),
                               scores.to(device, non_blocking=True)), clock, grid.timing)
        rows.append(_row("copy_d2h", d2h, index="", where="", entries=0, queries=q))
        rows.append(_row("copy_h2d", h2d, index="", where="", entries=0, queries=q))
    return rows
