"""Timing bank lookups with faiss: flat inner product, IVF-PQ and HNSW.

A bank holds unit vectors of the model's hidden size (inner product on unit
vectors is the router's cosine similarity). The vectors are random Gaussian
directions: a flat scan costs the same whatever the data, while IVF-PQ and
HNSW visit more candidates on such unstructured data than on real hidden
states, so their times here are on the pessimistic side. Each index is built
once per bank size and searched for every query batch (k neighbours).

On a CUDA device the flat and IVF-PQ banks move to the GPU when faiss was
built with GPU support; otherwise (and always for HNSW, which faiss has only
on the CPU) the lookup pays the copies of the queries to the host and of the
results back, which are timed as their own rows (copy_d2h, copy_h2d).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from profiler.grid import ProfileGrid
from profiler.hardware import faiss_has_gpu
from profiler.timing import Clock, Timing, measure


@dataclass(frozen=True)
class IndexSettings:
    """Build and search parameters (faiss's names), recorded in the profile."""

    k: int = 8
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


def _to_gpu(index, kind: str):
    """The GPU copy of a flat or IVF-PQ index where faiss can make one."""
    import faiss

    if kind == "hnsw" or not faiss_has_gpu():
        return index, "cpu"
    resources = faiss.StandardGpuResources()
    return faiss.index_cpu_to_gpu(resources, 0, index), "gpu"


def _row(component: str, timing: Timing, *, index: str, where: str, entries: int,
         queries: int) -> dict:
    return {"component": component, "index": index, "where": where,
            "bank_entries": entries, "num_queries": queries, "median_s": timing.median_s,
            "p10_s": timing.p10_s, "p90_s": timing.p90_s, "repeats": timing.repeats,
            "inner": timing.inner}


def count_points(grid: ProfileGrid) -> int:
    return sum(len(grid.bank_sizes_for(k)) for k in grid.index_kinds)


def profile_lookups(grid: ProfileGrid, device: str, dim: int,
                    settings: IndexSettings = IndexSettings(), seed: int = 0,
                    progress: Callable[[str], None] = lambda label: None) -> list[dict]:
    """Lookup rows (component "lookup") and, on CUDA, the copy rows."""
    rng = np.random.default_rng(seed)
    cpu_clock, cfg = Clock("cpu"), grid.timing
    queries = {q: unit_vectors(q, dim, rng) for q in grid.query_batches}
    rows: list[dict] = []
    on_cuda = device.startswith("cuda")
    if on_cuda:
        rows += _copy_rows(grid, device, dim, settings.k)
    for kind in grid.index_kinds:
        for n in grid.bank_sizes_for(kind):
            progress(f"{kind} bank {n:,}: build")
            index = build_index(kind, unit_vectors(n, dim, rng), settings, rng)
            where = "cpu"
            if on_cuda:
                index, where = _to_gpu(index, kind)
            clock = Clock(device) if where == "gpu" else cpu_clock
            progress(f"{kind} bank {n:,}: search")
            for q, xq in queries.items():
                t = measure(partial(index.search, xq, settings.k), clock, cfg)
                rows.append(_row("lookup", t, index=kind, where=where, entries=n, queries=q))
            del index
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
