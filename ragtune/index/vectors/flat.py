"""Exact inner-product search with numpy: never misses, fast enough below ~100k passages."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ragtune.index.vectors.base import VectorIndex


class FlatIndex(VectorIndex):
    name = "flat"

    def __init__(self, dim: int):
        self._matrix = np.zeros((0, dim), dtype=np.float32)

    def build(self, vectors: np.ndarray) -> None:
        self._matrix = np.ascontiguousarray(vectors, dtype=np.float32)

    def vectors(self) -> np.ndarray:
        return self._matrix

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = self._matrix.shape[0]
        q = np.atleast_2d(queries).astype(np.float32)
        if n == 0 or k <= 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        scores = q @ self._matrix.T
        k = min(k, n)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1)

    def save(self, folder: Path) -> None:
        np.save(folder / "vectors.npy", self._matrix)

    def load(self, folder: Path) -> None:
        self._matrix = np.load(folder / "vectors.npy", mmap_mode="r")
