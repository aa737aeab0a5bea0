"""A frozen embedder whose query vectors pass through a trained residual adapter (numpy only, no torch at ask time).

Passages are encoded by the base embedder unchanged, so an index built with it stays valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ragtune.errors import RagtuneError
from ragtune.index.embedders.base import Embedder, normalize


def apply_query_adapter(vectors: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """q' = normalize(q + q Wᵀ): W = 0 is the identity, the starting point of training."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return normalize(vectors + vectors @ weight.T)


def load_query_weight(path: Path, dim: int) -> np.ndarray:
    from safetensors.numpy import load_file

    try:
        weight = load_file(str(path))["weight"]
    except (OSError, KeyError, ValueError) as exc:
        raise RagtuneError(f"{path}: cannot read the query adapter ({exc})") from exc
    if weight.shape != (dim, dim):
        raise RagtuneError(f"{path}: adapter is {weight.shape[0]}-dimensional, the embedder {dim}-dimensional")
    return weight.astype(np.float32)


class QueryAdaptedEmbedder(Embedder):
    """Same vector space and name as `base`; only `encode_queries` differs."""

    def __init__(self, base: Embedder, weight: np.ndarray):
        super().__init__(base.batch_size, base.query_prefix, base.passage_prefix)
        self.base, self.weight = base, weight
        self.name, self.dim, self.dense_weight = base.name, base.dim, base.dense_weight

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.base._encode(texts)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.base.encode_passages(texts, progress)

    def encode_queries(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return apply_query_adapter(self.base.encode_queries(texts, progress), self.weight)
