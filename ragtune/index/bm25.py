"""Sparse lexical index: bm25s over cached tokens (rebuilt on change; jieba, not BM25, is the slow part)."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np


class BM25Index:
    """Scores every passage for a tokenised query; row i is passage i of the store."""

    def __init__(self, k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self._bm25: bm25s.BM25 | None = None
        self._size = 0

    def build(self, corpus_tokens: list[list[str]]) -> None:
        self._size = len(corpus_tokens)
        if not corpus_tokens:
            self._bm25 = None
            return
        self._bm25 = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self._bm25.index(corpus_tokens, show_progress=False)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage (zeros when no query term is in the vocabulary)."""
        if self._bm25 is None:
            return np.zeros(self._size, dtype=np.float32)
        known = [t for t in query_tokens if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    @property
    def documents(self) -> int:
        """Documents the stored BM25 matrices cover (the store cross-checks it against its passages on load)."""
        return int(self._bm25.scores["num_docs"]) if self._bm25 is not None else 0

    def save(self, folder: Path) -> None:
        if self._bm25 is not None:
            self._bm25.save(str(folder / "bm25"), show_progress=False)

    def load(self, folder: Path, size: int) -> None:
        """Read what `save` wrote; only an empty index has no bm25/ (a lost one must not mean dense-only search)."""
        self._size = size
        path = folder / "bm25"
        if size and not path.is_dir():
            raise FileNotFoundError(f"{path.name}/ is missing")
        self._bm25 = bm25s.BM25.load(str(path), mmap=False, show_progress=False) if size else None
