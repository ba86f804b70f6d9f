"""A faiss bank at one checkpoint: recorded hidden states and their safe decisions.

Keys are L2-normalised so inner product = cosine similarity (IndexFlatIP,
exact search). Values are the rows of the `SkipExamples` it was built from:
the safety of every candidate landing and the residual deltas.
"""

from __future__ import annotations

import numpy as np

from policies.routers.base import SkipExamples


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class SkipBank:
    def __init__(self, examples: SkipExamples):
        import faiss

        self.examples = examples
        self.index = faiss.IndexFlatIP(examples.keys.shape[1])
        self.index.add(normalise(examples.keys))

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, keys: np.ndarray, k: int):
        """(similarities [n, k], row ids [n, k]) of the k nearest entries."""
        k = min(k, len(self))
        return self.index.search(normalise(keys), k)

    def check_integrity(self) -> None:
        ex = self.examples
        assert self.index.ntotal == len(ex) == len(ex.safe) == len(ex.deltas)
        assert ex.safe.shape[1] == len(ex.landings) == ex.deltas.shape[1]
