"""Indexing: the read stage's documents → chunks → vectors + tokens → index snapshots, batch by batch.

`ragtune read` lands here: the read package turns files into chunks, this module embeds and stores them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import numpy as np

from ragtune.config import Config
from ragtune.errors import LoadError
from ragtune.index.backends import IndexBackend, open_index, open_or_create_index, write_lock
from ragtune.index.embedders import Embedder
from ragtune.index.passage import Passage
from ragtune.index.store import looks_like_index
from ragtune.index.tokenize import tokenize
from ragtune.progress import progress_bar
from ragtune.read.ingest import SourceFile, discover, load_source, source_key


@dataclass
class ReadReport:
    """What a read did, for the CLI's counts and for tests."""

    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    documents: int = 0
    passages_added: int = 0
    passages_removed: int = 0
    passages_total: int = 0
    seconds: float = 0.0
    errors: list[LoadError] = field(default_factory=list)

    @property
    def files_ok(self) -> int:
        return self.files_new + self.files_changed + self.files_unchanged + self.files_deleted


def read_paths(folder: str | Path, paths: list[str | Path], config: Config, embedder: Embedder,
               progress: bool = True) -> ReadReport:
    """Add new files, replace changed ones, skip unchanged ones.

    The index is loaded under the write lock (a concurrent read's files are never lost), and a snapshot is
    saved every `index.save_every_passages` new passages: a kill loses at most that batch, a rerun skips the
    files already saved and resumes a file cut short, and the new passages held in memory never exceed a batch.
    """
    start = time.perf_counter()
    report = ReadReport()
    files, report.errors = discover(paths, is_index=looks_like_index)
    with write_lock(folder, config=config):
        store = open_or_create(folder, config, embedder)
        batch = PassageBatch(store, embedder, report, config.index.save_every_passages, progress)
        for path, doc_id in progress_bar(files, desc="reading files", unit="file", enabled=progress, leave=False):
            key = source_key(path)  # discover() names each file once, however many arguments reach it
            entry = store.sources.get(key)
            try:
                source = load_source(path, doc_id, known_sha=known_sha(entry), limits=config.read,
                                     chunking=config.chunking)
            except LoadError as exc:
                report.errors.append(exc)
                continue
            add_source(batch, key, entry, source.sha256, str(source.path), len(source.documents), _passages(source))
        batch.flush()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report


def open_or_create(location: str | Path, config: Config, embedder: Embedder) -> IndexBackend:
    """The index at `location` bound to `embedder`'s vector space, or a new empty one (under the write lock)."""
    return open_or_create_index(location, config, embedder.name, embedder.dim)


def known_sha(entry: dict | None) -> str | None:
    """The hash under which a stored file counts as unchanged (None: read it; a partly saved file is resumed)."""
    return entry["sha256"] if entry and not entry.get("partial") else None


def add_source(batch: PassageBatch, key: str, entry: dict | None, sha256: str, path: str, documents: int,
               passages: Iterator[Passage]) -> None:
    """Queue one loaded file's passages: new, changed, resumed after a kill, or unchanged (no documents)."""
    report = batch.report
    if not documents:
        report.files_unchanged += 1
        return
    resumed = False
    if entry and entry.get("partial") and entry["sha256"] == sha256:
        resumed, passages = _resume(batch.store, key, passages)
    report.files_new += entry is None or resumed
    report.files_changed += entry is not None and not resumed
    report.documents += documents
    meta = {"sha256": sha256, "path": path, "documents": documents}
    batch.add(key, meta, passages, replace_old=entry is not None and not resumed)


def write_embedded(store: IndexBackend, report: ReadReport, removed: set[str], sources: dict[str, dict],
                   passages: list[Passage], vectors: np.ndarray, tokens: list[list[str]]) -> None:
    """Write one already-embedded batch and commit it: the one writer of the local and the Ray read."""
    report.passages_removed += store.replace(removed, sources, passages, vectors, tokens)
    report.passages_added += len(passages)
    store.commit()


class PassageBatch:
    """New passages waiting to be embedded and saved; `flush` writes them as one snapshot."""

    def __init__(self, store: IndexBackend, embedder: Embedder, report: ReadReport, size: int, progress: bool):
        self.store, self.embedder, self.report, self.size, self.progress = store, embedder, report, size, progress
        self.passages: list[Passage] = []
        self.sources: dict[str, dict] = {}
        self.removed: set[str] = set()

    def add(self, key: str, meta: dict, passages: Iterable[Passage], replace_old: bool) -> None:
        """Queue one file's passages (dropping its old ones if `replace_old`); a file split over batches is
        saved as `partial` until its last passage is in."""
        if replace_old:
            self.removed.add(key)
        for passage in passages:
            self.sources.setdefault(key, {**meta, "partial": True})
            self.passages.append(passage)
            if len(self.passages) >= self.size:
                self.flush()
        self.sources[key] = meta

    def flush(self) -> None:
        if not self.sources and not self.removed:
            return
        vectors, tokens = self.encode(self.passages)
        write_embedded(self.store, self.report, self.removed, self.sources, self.passages, vectors, tokens)
        self.passages, self.sources, self.removed = [], {}, set()

    def encode(self, passages: list[Passage]) -> tuple[np.ndarray, list[list[str]]]:
        """The passages' vectors and BM25 tokens, computed here (the Ray read brings them computed)."""
        texts = [self.store.search_text(p.embedding_text) for p in passages]
        vectors = self.embedder.encode_passages(texts, progress=self.progress)
        tokens = [tokenize(t) for t in progress_bar(texts, desc="BM25 tokens", unit="passage",
                                                    enabled=self.progress, leave=False)]
        return vectors, tokens


def _passages(source: SourceFile) -> Iterator[Passage]:
    """A file's passages in a stable order (a resumed read relies on it), made as the batch takes them."""
    for chunk in source.chunks:
        yield Passage(chunk.doc_id, chunk.position, chunk.title, chunk.text, source.key)


def _resume(store: IndexBackend, key: str, passages: Iterator[Passage]) -> tuple[bool, Iterator[Passage]]:
    """For a file a killed read saved only part of: whether its stored passages are the start of `passages`
    (then the rest follows), else all of `passages` to replace them (the chunking settings changed)."""
    stored = store.source_passages(key)
    head = list(islice(passages, len(stored)))
    if head == stored:
        return True, passages
    return False, chain(head, passages)


def delete_paths(folder: str | Path, paths: list[str | Path], config: Config | None = None) -> ReadReport:
    """Remove every source at or under each path (the files need not exist any more)."""
    start = time.perf_counter()
    report = ReadReport()
    with write_lock(folder, create=False, config=config):
        store = open_index(folder, config)
        targets = [source_key(p) for p in paths]
        doomed = {key for key in store.sources for t in targets if key == t or key.startswith(t.rstrip("/") + "/")}
        for target in targets:
            if not any(key == target or key.startswith(target.rstrip("/") + "/") for key in doomed):
                report.errors.append(LoadError(target, "not in the index"))
        if doomed:
            report.passages_removed = store.replace(doomed, {}, [], [], [])
            report.files_deleted = len(doomed)
            store.commit()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report


def reembed_index(folder: str | Path, embedder: Embedder, progress: bool = True, config: Config | None = None
                  ) -> ReadReport:
    """Encode every stored passage with `embedder` into a new snapshot (BM25 and passages unchanged)."""
    start = time.perf_counter()
    report = ReadReport()
    with write_lock(folder, create=False, config=config):
        store = open_index(folder, config)
        texts = [store.search_text(p.embedding_text) for p in store.passages]
        vectors = embedder.encode_passages(texts, progress=progress)
        store.replace_vectors(embedder.name, vectors.reshape(len(texts), embedder.dim))
        store.commit()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report


def optimize_index(folder: str | Path, config: Config | None = None) -> ReadReport:
    """Compact the index (deleted rows dropped, BM25 statistics exact again, one vector graph); answers unchanged."""
    start = time.perf_counter()
    report = ReadReport()
    with write_lock(folder, create=False, config=config):
        store = open_index(folder, config)
        store.optimize()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report
