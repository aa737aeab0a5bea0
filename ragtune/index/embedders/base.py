"""Base class for embedders: queries and passages are encoded separately (asymmetric models fit)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ragtune.progress import progress_bar


def normalize(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows so inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors."""

    #: identifies the vector space; an index refuses queries from a different one
    name: str
    dim: int
    #: weight of this embedder's scores against BM25's (1.0) in fused retrieval, measured on the public sets
    dense_weight: float = 1.0

    def __init__(self, batch_size: int = 64, query_prefix: str = "", passage_prefix: str = ""):
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray:
        """Encode one batch of already-prefixed texts."""

    def _encode_all(self, texts: list[str], progress: bool, desc: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Length-sorted batches waste less work on padding in padded backends.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with progress_bar(total=len(texts), desc=desc, unit="text", enabled=progress, leave=False) as bar:
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                out[rows] = normalize(self._encode([texts[i] for i in rows]))
                bar.update(len(rows))
        return out

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode_all([self.passage_prefix + t for t in texts], progress, "embedding passages")

    def encode_queries(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode_all([self.query_prefix + t for t in texts], progress, "embedding queries")
