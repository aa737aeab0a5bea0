"""Base class for dense vector indexes over L2-normalised rows (inner product = cosine)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class VectorIndex(ABC):
    """Row i of the index is passage i of the store; search returns row numbers."""

    name: str

    @abstractmethod
    def build(self, vectors: np.ndarray) -> None:
        """Replace the contents with `vectors` (n, dim)."""

    @abstractmethod
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) per query, best first; rows are -1 where fewer than k exist."""

    @abstractmethod
    def vectors(self) -> np.ndarray:
        """All stored vectors, row-aligned with the passages (for incremental rebuilds)."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write into `folder` (a fresh snapshot directory)."""

    @abstractmethod
    def load(self, folder: Path) -> None:
        """Read what `save` wrote."""
