"""The read stage end to end: files → documents → chunks → vectors + tokens → a new index snapshot."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.config import Config
from ragtune.errors import LoadError, RagtuneError
from ragtune.index.embedders import Embedder
from ragtune.index.store import IndexStore, Passage
from ragtune.index.tokenize import tokenize
from ragtune.progress import progress_bar
from ragtune.read.chunking import chunk_document
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


def open_or_create(folder: Path, config: Config, embedder: Embedder) -> IndexStore:
    """The index at `folder`, or a new empty one bound to `embedder`'s vector space."""
    if IndexStore.exists(folder):
        store = IndexStore.load(folder)
        if store.embedder != embedder.name:
            raise RagtuneError(
                f"{folder}: index was built with embedder {store.embedder!r}, not {embedder.name!r}; "
                "use the same embedder or a new --index folder"
            )
        return store
    return IndexStore(folder, embedder.name, embedder.dim, config.index.vector_backend,
                      config.index.bm25_k1, config.index.bm25_b, config.index.script)


def read_paths(folder: Path, paths: list[str | Path], config: Config, embedder: Embedder,
               progress: bool = True) -> ReadReport:
    """Add new files, replace changed ones, skip unchanged ones; one atomic snapshot at the end."""
    start = time.perf_counter()
    report = ReadReport()
    files, report.errors = discover(paths)
    store = open_or_create(Path(folder), config, embedder)
    with store.lock():
        loaded: list[SourceFile] = []
        for path, doc_id in progress_bar(files, desc="reading files", unit="file", enabled=progress, leave=False):
            known = store.sources.get(source_key(path), {}).get("sha256")
            try:
                source = load_source(path, doc_id, known_sha=known, limits=config.read, chunking=config.chunking)
            except LoadError as exc:
                report.errors.append(exc)
                continue
            if not source.documents:
                report.files_unchanged += 1
                continue
            report.files_changed += known is not None
            report.files_new += known is None
            loaded.append(source)

        passages: list[Passage] = []
        new_sources: dict[str, dict] = {}
        for source in loaded:
            report.documents += len(source.documents)
            for doc in source.documents:
                for chunk in chunk_document(doc, config.chunking.chunk_size, config.chunking.chunk_overlap):
                    passages.append(Passage(chunk.doc_id, chunk.position, chunk.title, chunk.text, source.key))
            new_sources[source.key] = {"sha256": source.sha256, "path": str(source.path),
                                       "documents": len(source.documents)}
        if loaded:
            texts = [store.search_text(embedding_text(p)) for p in passages]
            vectors = embedder.encode_passages(texts, progress=progress)
            tokens = [tokenize(t) for t in progress_bar(texts, desc="BM25 tokens", unit="passage",
                                                        enabled=progress, leave=False)]
            removed = {s.key for s in loaded if s.key in store.sources}
            report.passages_removed = store.replace(removed, new_sources, passages, vectors, tokens)
            report.passages_added = len(passages)
            store.save()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report


def delete_paths(folder: Path, paths: list[str | Path]) -> ReadReport:
    """Remove every source at or under each path (the files need not exist any more)."""
    start = time.perf_counter()
    report = ReadReport()
    store = IndexStore.load(Path(folder))
    with store.lock():
        targets = [source_key(p) for p in paths]
        doomed = {key for key in store.sources for t in targets if key == t or key.startswith(t.rstrip("/") + "/")}
        for target in targets:
            if not any(key == target or key.startswith(target.rstrip("/") + "/") for key in doomed):
                report.errors.append(LoadError(target, "not in the index"))
        if doomed:
            report.passages_removed = store.replace(doomed, {}, [], [], [])
            report.files_deleted = len(doomed)
            store.save()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report


def reembed_index(folder: Path, embedder: Embedder, progress: bool = True) -> ReadReport:
    """Encode every stored passage with `embedder` into a new snapshot (BM25 and passages unchanged)."""
    start = time.perf_counter()
    report = ReadReport()
    store = IndexStore.load(Path(folder))
    with store.lock():
        texts = [store.search_text(embedding_text(p)) for p in store.passages]
        vectors = embedder.encode_passages(texts, progress=progress)
        store.replace_vectors(embedder.name, vectors.reshape(len(texts), embedder.dim))
        store.save()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report


def embedding_text(passage: Passage) -> str:
    """Title plus text: titles carry the topic that a chunk's own sentences often omit."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text
