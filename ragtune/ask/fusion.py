"""Fusion of ranked candidate lists: a small base class and one class per method."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ragtune.config import RetrievalConfig
from ragtune.errors import RagtuneError


class Fusion(ABC):
    name: str

    def __init__(self, config: RetrievalConfig):
        self.config = config

    @abstractmethod
    def fuse(self, dense: np.ndarray, bm25: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Fused scores for `candidates` (positions in the dense and BM25 score arrays)."""


def _ranks(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """1-based rank of each candidate among the candidates, by score."""
    order = np.argsort(-scores[candidates], kind="stable")
    ranks = np.empty(len(candidates), dtype=np.float64)
    ranks[order] = np.arange(1, len(candidates) + 1)
    return ranks


class WeightedRRF(Fusion):
    """Reciprocal rank fusion, Σ w / (k + rank): robust to the two scores' different scales."""

    name = "rrf"

    def fuse(self, dense, bm25, candidates):
        c = self.config
        return c.dense_weight / (c.rrf_k + _ranks(dense, candidates)) + c.bm25_weight / (
            c.rrf_k + _ranks(bm25, candidates)
        )


def minmax(x: np.ndarray) -> np.ndarray:
    """Scores scaled to [0, 1] over the pool (all zeros when they are all equal), in float64."""
    x = np.asarray(x, dtype=np.float64)
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


class LinearFusion(Fusion):
    """Weighted sum of min-max normalised scores over the candidate pool."""

    name = "linear"

    def fuse(self, dense, bm25, candidates):
        return self.config.dense_weight * minmax(dense[candidates]) + self.config.bm25_weight * minmax(bm25[candidates])


FUSIONS: dict[str, type[Fusion]] = {cls.name: cls for cls in (WeightedRRF, LinearFusion)}


def create_fusion(config: RetrievalConfig) -> Fusion:
    try:
        return FUSIONS[config.fusion](config)
    except KeyError:
        raise RagtuneError(f"unknown fusion {config.fusion!r}; known: {', '.join(FUSIONS)}") from None
