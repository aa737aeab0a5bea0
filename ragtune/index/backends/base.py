"""What every index backend offers its callers (ask, train, eval, serve, read), and nothing more.

An opened backend is a snapshot-consistent reader: it keeps answering from the state it opened, whatever writers
do meanwhile. Rows number its passages 0..len-1 in that state: `passages[row]`, `vectors()[row]` and every search
agree on them (they are not stable across states; `Passage.id` is). A writer holds `lock()` (or the factory's
`write_lock`) from before it opens the index until after `commit()`, so no write is lost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar

import numpy as np

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.passage import Passage

Location = str | Path


def class_for_url(text: str, registry: Mapping[str, type], what: str) -> type | None:
    """The class of `registry` whose `schemes` hold the URL's scheme ("postgresql+psycopg" counts as
    "postgresql"); None for a folder (no "://"); a one-line error naming the known schemes for any other."""
    if "://" not in text:
        return None
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower()
    for cls in registry.values():
        if scheme in cls.schemes:
            return cls
    raise RagtuneError(f"{text}: no {what} for {scheme}:// (known: "
                       f"{', '.join(s for c in registry.values() for s in c.schemes) or 'none'})")


class IndexBackend(ABC):
    """One index, as opened: its passages, sources, lexical and dense search, and the means to change it."""

    #: the config name (`index.backend`) this backend is registered under
    name: ClassVar[str]
    #: URL schemes (`--index postgresql://...`) that select this backend whatever the config says
    schemes: ClassVar[tuple[str, ...]] = ()

    #: name of the embedder whose vector space the index holds, and its dimension
    embedder: str
    dim: int

    # ---- opening (class level: a location, nothing loaded) ---------------------------------------
    @classmethod
    @abstractmethod
    def open(cls, location: Location, config: Config | None = None) -> IndexBackend:
        """The index at `location` as it is now (a RagtuneError when there is none or it is damaged)."""

    @classmethod
    @abstractmethod
    def create(cls, location: Location, config: Config, embedder: str, dim: int) -> IndexBackend:
        """A new empty index bound to `embedder`'s vector space (written by the first `commit`)."""

    @classmethod
    @abstractmethod
    def exists(cls, location: Location) -> bool:
        """Whether `location` holds an index to open (maybe a damaged one, which `open` then explains)."""

    @classmethod
    @abstractmethod
    def manifest(cls, location: Location) -> dict:
        """What the index is without opening it: at least `embedder`, `dim` and `passages` (its size)."""

    @classmethod
    @abstractmethod
    def version(cls, location: Location) -> str | None:
        """A name for the committed state (changes on every commit; None: no index yet), for readers that
        reopen when it moves (serve)."""

    @classmethod
    @abstractmethod
    def write_lock(cls, location: Location, create: bool = True) -> AbstractContextManager:
        """Hold the index's write lock (re-entrant in a thread); `create=False` refuses a location with no index."""

    # ---- reading (the state as opened) -----------------------------------------------------------
    @property
    @abstractmethod
    def passages(self) -> Sequence[Passage]:
        """Every passage, by row; may load them on access (do not hold a copy of it for a big index)."""

    @property
    @abstractmethod
    def sources(self) -> Mapping[str, dict]:
        """Source key (a file) -> its metadata (`sha256`, `path`, `documents`, `partial` while cut short)."""

    def __len__(self) -> int:
        return len(self.passages)

    @abstractmethod
    def search_text(self, text: str) -> str:
        """`text` as this index's lexical tokens and vectors see it (passages at read time, queries at ask time)."""

    @abstractmethod
    def source_passages(self, source: str) -> list[Passage]:
        """The passages of one source, in the order they were added (a resumed read compares them)."""

    @abstractmethod
    def lexical_top(self, tokens: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, BM25 scores) of the best `n` passages holding a query token, best first (maybe fewer)."""

    @abstractmethod
    def lexical_scores(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        """BM25 score of each of `rows` (0 where no token matches), on the same scale as `lexical_top`."""

    @abstractmethod
    def dense_top(self, vectors: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the nearest `n` passages to each query vector (q, dim), best first; rows -1 pad.
        Approximate above a size the backend chooses; `dense_scores` is always exact."""

    def dense_scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact inner product of one query vector with each of `rows`."""
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return np.zeros(0, np.float32)
        return np.asarray(self.vectors()[rows], np.float32) @ np.asarray(vector, np.float32)

    @abstractmethod
    def vectors(self) -> np.ndarray:
        """All vectors (len, dim), row-aligned with `passages` (training reads them; may be a memmap)."""

    # ---- changing (under the write lock; visible to others after `commit`) -----------------------
    def lock(self) -> AbstractContextManager:
        """This index's write lock (see `write_lock`)."""
        return self.write_lock(self.location)

    @property
    @abstractmethod
    def location(self) -> Location:
        """Where the index lives (a folder or a URL)."""

    @abstractmethod
    def replace(self, removed_sources: set[str], new_sources: dict[str, dict], passages: list[Passage],
                vectors: np.ndarray, tokens: list[list[str]]) -> int:
        """Drop every passage of `removed_sources`, add `passages` with their vectors and lexical tokens, set the
        metadata of `new_sources`; returns the passages dropped. Rows are renumbered; ids stay."""

    @abstractmethod
    def replace_vectors(self, embedder: str, vectors: np.ndarray) -> None:
        """Move every passage into another embedder's vector space (`vectors` row-aligned with `passages`)."""

    @abstractmethod
    def commit(self) -> str:
        """Make every change since opening visible at once (a crash before it leaves the previous state);
        returns the new `version`."""

    @abstractmethod
    def optimize(self) -> None:
        """Compact what in-place changes left (deleted rows, small segments); the answers do not change."""
