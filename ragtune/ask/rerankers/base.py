"""Base class for rerankers: re-score the fused top candidates with a stronger, slower model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ragtune.config import Config


class Reranker(ABC):
    name: str
    #: question languages the model was trained on; other questions keep the fused order
    languages: frozenset[str] = frozenset({"en", "zh"})
    #: fused top candidates it re-scores; None: retrieval.rerank_candidates
    candidates: int | None = None
    #: rerank only when the fused leader leads the next document by less than this share of its score (a slow
    #: reranker spends its time where the fused order is unsure); None: every question
    margin: float | None = None

    @classmethod
    def from_config(cls, config: Config) -> Reranker:
        """Built from the whole config, so a backend can take the settings it needs (the generator's, say)."""
        return cls()

    def use_generator(self, generator: Callable[[], object]) -> None:
        """Offered the pipeline's own (lazily loaded, adapter-free) generator; a reranker that scores with the same
        model takes it rather than loading a second copy. Others ignore it."""
        return

    @abstractmethod
    def scores(self, query: str, passages: list[str]) -> np.ndarray:
        """Relevance of each passage to the query (higher is better)."""
