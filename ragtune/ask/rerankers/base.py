"""Base class for rerankers: re-score the fused top candidates with a stronger, slower model."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Reranker(ABC):
    name: str
    #: question languages the model was trained on; other questions keep the fused order
    languages: frozenset[str] = frozenset({"en", "zh"})

    @abstractmethod
    def scores(self, query: str, passages: list[str]) -> np.ndarray:
        """Relevance of each passage to the query (higher is better)."""
