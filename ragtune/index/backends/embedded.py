"""The embedded index (format 2): files in the --index folder that grow in place.

    DIR/catalog.sqlite    passages, their BM25 tokens, sources and the manifest (SQLite, WAL)
    DIR/lexical-<id>/     tantivy BM25 over our tokens (engines/lexical.py)
    DIR/vectors-<id>.*    append-only vectors + keys, memory-mapped; hnsw-<id>.faiss graphs (engines/dense.py)

A write appends to the engines, then commits one SQLite transaction holding the new manifest: that commit is the
switch, so a crash before it leaves the previous state live (what the engines got past it is never published:
the next write cuts it off or skips its keys). Readers hold a read transaction on the catalog and keep only the
keys it shows, so they answer from the state they opened. Passages are addressed by a key that never changes;
rows are their order in one state. Indexes in the snapshot format (1) are migrated on first open.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.files import fsync_dir
from ragtune.index.backends.base import IndexBackend, Location
from ragtune.index.backends.snapshot import IndexStore, write_lock
from ragtune.index.engines import catalog, dense, lexical
from ragtune.index.passage import Passage
from ragtune.index.script import script_normalizer

FORMAT_VERSION = 2
_NEW_CATALOG = ".catalog-new.sqlite"
#: files ragtune writes here besides the catalog; only these are ever garbage-collected
_ENGINE_FILE = re.compile(r"(lexical-[0-9a-f]{32}|vectors-[0-9a-f]{32}\.(?:f32|keys)|hnsw-[0-9a-f]{32}\.(?:faiss|tmp))")
_OPEN_ATTEMPTS = 5


class EmbeddedIndex(IndexBackend):
    name = "embedded"

    def __init__(self, folder: Path, manifest: dict, gen: int = 0, snapshot: catalog.Snapshot | None = None,
                 ef_search: int | None = None):
        self.folder = Path(folder)
        self._ef_search = ef_search or manifest["hnsw"]["ef_search"]
        self._manifest, self._gen, self._snapshot = manifest, gen, snapshot
        self.embedder, self.dim, self.script = manifest["embedder"], manifest["dim"], manifest["script"]
        self._normalize = script_normalizer(self.script)
        self._keys = snapshot.keys if snapshot is not None else np.zeros(0, np.int64)
        self._sources = snapshot.sources if snapshot is not None else catalog.Sources(None)
        self._lexical = lexical.LexicalReader(self.folder / manifest["lexical"]) if snapshot is not None else None
        self._dense = dense.DenseReader(self.folder, manifest["vectors"], self.dim, self._keys, self._ef_search,
                                        manifest.get("live") if snapshot is not None else None)
        self._pending: list[tuple[Passage, np.ndarray, list[str]]] = []
        self._removed: set[str] = set()
        self._reembed: tuple[str, np.ndarray] | None = None

    # ---- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, location: Location, config: Config | None = None) -> EmbeddedIndex:
        folder = Path(location)
        if not (folder / catalog.CATALOG).is_file():
            if not IndexStore.exists(folder):
                raise RagtuneError(f"{folder}: no index here; run `ragtune read PATH... --index {folder}` first")
            from ragtune.index.backends.migrate import migrate

            migrate(folder, config or Config())
        for attempt in range(_OPEN_ATTEMPTS):
            snapshot = None
            try:
                snapshot = catalog.Snapshot(folder / catalog.CATALOG)
                return cls(folder, snapshot.manifest, snapshot.gen, snapshot, (config or Config()).index.hnsw_ef_search)
            except (OSError, ValueError, KeyError, RuntimeError, sqlite3.Error) as exc:
                if snapshot is not None:
                    snapshot.close()
                if snapshot is None or cls.version(folder) == f"gen-{snapshot.gen}":
                    raise RagtuneError(f"{folder}: index is damaged: {exc}; read the documents into a new "
                                       "--index folder (this one is left as it is)") from exc
                time.sleep(0.05 * (attempt + 1))  # a writer replaced files this state named: open the new state
        raise RagtuneError(f"{folder}: the index changed {_OPEN_ATTEMPTS} times while it was being opened; try again")

    @classmethod
    def create(cls, location: Location, config: Config, embedder: str, dim: int) -> EmbeddedIndex:
        return cls.new(Path(location), config, embedder, dim, config.index.script)

    @classmethod
    def new(cls, folder: Path, config: Config, embedder: str, dim: int, script: str) -> EmbeddedIndex:
        c = config.index
        if (c.bm25_k1, c.bm25_b) != (lexical.K1, lexical.B):
            raise RagtuneError(f"index.bm25_k1/bm25_b are {c.bm25_k1}/{c.bm25_b}, but the embedded index scores "
                               f"BM25 with tantivy, whose k1={lexical.K1} and b={lexical.B} are fixed; set those, or "
                               "index.backend: snapshot (the old whole-rewrite format, any k1/b)")
        manifest = {
            "format": FORMAT_VERSION, "embedder": embedder, "dim": int(dim), "script": script,
            "bm25_k1": lexical.K1, "bm25_b": lexical.B, "passages": 0, "next_key": 0,
            "lexical": f"lexical-{uuid.uuid4().hex}", "lexical_docs": 0,
            "vectors": {"file": f"vectors-{uuid.uuid4().hex}", "rows": 0, "segments": []},
            "hnsw": {"exact_below": c.exact_below, "m": c.hnsw_m, "ef_construction": c.hnsw_ef_construction,
                     "ef_search": c.hnsw_ef_search, "max_segments": c.max_vector_segments},
            "compact_dead_share": c.compact_dead_share,
        }
        return cls(folder, manifest)

    @classmethod
    def exists(cls, location: Location) -> bool:
        return (Path(location) / catalog.CATALOG).is_file() or IndexStore.exists(Path(location))

    @classmethod
    def manifest(cls, location: Location) -> dict:
        folder = Path(location)
        if not (folder / catalog.CATALOG).is_file():
            return IndexStore.manifest(folder)  # not migrated yet: the snapshot's manifest says the same
        conn = catalog.connect(folder / catalog.CATALOG)
        try:
            found = catalog.latest_manifest(conn)
        finally:
            conn.close()
        if found is None:
            raise RagtuneError(f"{folder}: index is damaged: {catalog.CATALOG} holds no manifest")
        return found[1]

    @classmethod
    def version(cls, location: Location) -> str | None:
        folder = Path(location)
        if not (folder / catalog.CATALOG).is_file():
            return IndexStore.version(folder)
        conn = catalog.connect(folder / catalog.CATALOG)
        try:
            found = catalog.latest_manifest(conn)
        finally:
            conn.close()
        return None if found is None else f"gen-{found[0]}"

    @classmethod
    def write_lock(cls, location: Location, create: bool = True):
        return write_lock(Path(location), create)

    @property
    def location(self) -> Path:
        return self.folder

    # ---- reading ---------------------------------------------------------------------------------
    @property
    def passages(self) -> Sequence[Passage]:
        return _Passages(self._snapshot, self._keys)

    @property
    def sources(self) -> Mapping[str, dict]:
        return self._sources

    def __len__(self) -> int:
        return len(self._keys)

    def search_text(self, text: str) -> str:
        return self._normalize(text)

    def source_passages(self, source: str) -> list[Passage]:
        return self._snapshot.source_passages(source) if self._snapshot is not None else []

    def lexical_top(self, tokens: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        if self._lexical is None or not len(self._keys):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        docs = self._lexical.documents
        keys, scores = self._lexical.top(tokens, n, self._is_live, max(0, docs - len(self._keys)) / max(docs, 1))
        return np.searchsorted(self._keys, keys), scores

    def lexical_scores(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        if self._lexical is None or not len(rows):
            return np.zeros(len(rows), np.float32)
        return self._lexical.scores(tokens, self._keys[rows])

    def dense_top(self, vectors: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._dense.search(vectors, n)

    def dense_scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return np.zeros(0, np.float32)
        # a sum of products rather than a BLAS gemv, which waits on its threads when the cores are busy
        return (np.asarray(self._dense.matrix[self._dense.positions_of(rows)]) * np.asarray(vector, np.float32)).sum(1)

    def vectors(self) -> np.ndarray:
        return self._dense.vectors()

    def _is_live(self, keys: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return self._keys[at] == keys

    # ---- changing --------------------------------------------------------------------------------
    def replace(self, removed_sources: set[str], new_sources: dict[str, dict], passages: list[Passage],
                vectors: np.ndarray, tokens: list[list[str]]) -> int:
        dropped = sum(len(self.source_passages(s)) for s in removed_sources - self._removed if s in self._sources)
        dropped += sum(p.source in removed_sources for p, _, _ in self._pending)
        self._pending = [item for item in self._pending if item[0].source not in removed_sources]
        self._removed |= set(removed_sources)
        vectors = np.asarray(vectors, np.float32).reshape(-1, self.dim)
        self._pending += list(zip(passages, vectors, tokens, strict=True))
        for key in removed_sources:
            self._sources.pop(key, None)
        self._sources.update(new_sources)
        return dropped

    def replace_vectors(self, embedder: str, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, np.float32)
        if len(vectors) != len(self._keys):
            raise ValueError(f"{len(vectors)} vectors for {len(self._keys)} passages")
        self._reembed = (embedder, vectors)

    def commit(self) -> str:
        with self.lock():
            try:
                if self._snapshot is None:
                    self._first_commit()
                else:
                    self._publish(self.folder / catalog.CATALOG, self._gen + 1)
            except (OSError, sqlite3.Error) as exc:
                still = "the previous index is still live" if self._snapshot is not None else "no index was written"
                raise RagtuneError(f"{self.folder}: could not write the index ({getattr(exc, 'strerror', None) or exc})"
                                   f"; {still}") from exc
            self._reopen()
            self._collect_garbage()
            m = self._manifest
            dead = max(m["lexical_docs"], m["vectors"]["rows"]) - m["passages"]
            if dead > 0 and dead >= m["compact_dead_share"] * max(m["lexical_docs"], m["vectors"]["rows"]):
                self.optimize()
        return f"gen-{self._gen}"

    def _first_commit(self) -> None:
        """A new index's catalog is written under another name and renamed into place whole: until then the
        folder holds no index (a migration's old snapshot stays live)."""
        tmp = self.folder / _NEW_CATALOG
        for leftover in self.folder.glob(_NEW_CATALOG + "*"):
            leftover.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        catalog.create(tmp)
        lexical.create(self.folder / self._manifest["lexical"])
        self._publish(tmp, 1)
        os.replace(tmp, self.folder / catalog.CATALOG)
        fsync_dir(self.folder)

    def _publish(self, path: Path, gen: int) -> None:
        m = {**self._manifest, "vectors": dict(self._manifest["vectors"])}
        tx = catalog.Transaction(path)
        try:
            removed = tx.remove_sources(self._removed)
            live = self._keys[~np.isin(self._keys, removed)] if len(removed) else self._keys
            if self._reembed is not None:
                m["embedder"], vectors = self._reembed[0], self._reembed[1]
                m["dim"] = int(vectors.shape[1])
                vectors = vectors[np.isin(self._keys, live)]
                m["vectors"] = dense.append(self.folder, {"file": f"vectors-{uuid.uuid4().hex}", "rows": 0,
                                                          "segments": []}, live, vectors, m["dim"])
            if self._pending:
                passages, vectors, tokens = (list(x) for x in zip(*self._pending))
                keys = np.arange(m["next_key"], m["next_key"] + len(passages), dtype=np.int64)
                m["vectors"] = dense.append(self.folder, m["vectors"], keys, np.stack(vectors), m["dim"])
                lexical.add(self.folder / m["lexical"], keys, tokens, drop_from=m["next_key"],
                            published=m["lexical_docs"])
                tx.add_passages(keys, passages, tokens)
                m["next_key"] += len(passages)
                m["lexical_docs"] += len(passages)
                live = np.concatenate([live, keys])
            m["vectors"] = _index_tail(self.folder, m["vectors"], m["dim"], m["hnsw"])
            tx.set_sources(self._sources.changed)
            m["passages"] = len(live)
            m["live"] = catalog.runs_of(live)
            tx.publish(gen, m)
        finally:
            tx.close()
        self._manifest, self._gen, self._next_keys = m, gen, live

    def _reopen(self) -> None:
        """This object now reads the state it committed (it holds the lock: no one else wrote since)."""
        if self._snapshot is not None:
            self._snapshot.close()
        snapshot = catalog.Snapshot(self.folder / catalog.CATALOG, keys=self._next_keys)
        self.__init__(self.folder, snapshot.manifest, snapshot.gen, snapshot, self._ef_search)

    def optimize(self) -> None:
        """Rewrite the vectors without deleted rows (one graph over them when big enough) and rebuild BM25 from the
        catalog's tokens (exact statistics again); published like any write, so a crash keeps the old state."""
        with self.lock():
            if self._snapshot is None:
                return
            m = {**self._manifest}
            keys = self._keys
            spec = {"file": f"vectors-{uuid.uuid4().hex}", "rows": 0, "segments": []}
            for start in range(0, len(keys), 100_000):
                part = self._dense.matrix[self._dense.positions_of(np.arange(start, min(start + 100_000, len(keys))))]
                spec = dense.append(self.folder, spec, keys[start:start + len(part)], part, self.dim)
            hnsw = {**m["hnsw"], "max_segments": 0}  # one graph over everything
            m["vectors"] = _index_tail(self.folder, spec, self.dim, hnsw) if len(keys) >= hnsw["exact_below"] else spec
            m["lexical"] = f"lexical-{uuid.uuid4().hex}"
            m["lexical_docs"] = lexical.rebuild(self.folder / m["lexical"], self._token_pages())
            tx = catalog.Transaction(self.folder / catalog.CATALOG)
            try:
                tx.publish(self._gen + 1, m)
            finally:
                tx.close()
            self._manifest, self._gen, self._next_keys = m, self._gen + 1, keys
            self._reopen()
            self._collect_garbage()

    def _token_pages(self) -> Iterator[list[tuple[int, str]]]:
        after = -1
        while page := self._snapshot.tokens(after):
            yield page
            after = page[-1][0]

    def _collect_garbage(self) -> None:
        """Remove engine files neither the live manifest nor the one before it names (a reader may still be
        opening that one); nothing else in the folder is touched."""
        keep = engine_files_of(self.folder)
        for entry in self.folder.iterdir():
            if _ENGINE_FILE.fullmatch(entry.name) and entry.name not in keep:
                try:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                except OSError:
                    continue


class _Passages(Sequence):
    """Passages by row, read from the catalog on access (an index of millions never sits in memory)."""

    def __init__(self, snapshot: catalog.Snapshot | None, keys: np.ndarray):
        self._snapshot, self._keys = snapshot, keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self._snapshot.passage(k) for k in self._keys[row].tolist()]
        return self._snapshot.passage(int(self._keys[row]))

    def __iter__(self) -> Iterator[Passage]:
        return self._snapshot.iterate() if self._snapshot is not None else iter(())


def _index_tail(folder: Path, spec: dict, dim: int, hnsw: dict) -> dict:
    """A graph over the exactly-searched tail once it holds `exact_below` rows; all graphs merged into one when
    there are more than `max_segments`."""
    params = dense.HnswParams(hnsw["exact_below"], hnsw["m"], hnsw["ef_construction"], hnsw["ef_search"],
                              hnsw["max_segments"])
    segments = list(spec["segments"])
    tail, rows = (segments[-1]["end"] if segments else 0), spec["rows"]
    if rows - tail < params.exact_below:
        return spec
    matrix = np.memmap(folder / dense.files(spec["file"])[0], np.float32, "r", shape=(rows, dim))
    if len(segments) + 1 > params.max_segments:
        segments, tail = [], 0
    name = f"hnsw-{uuid.uuid4().hex}.faiss"
    dense.build_graph(np.asarray(matrix[tail:rows]), params, folder / name)
    return {**spec, "segments": segments + [{"start": tail, "end": rows, "graph": name}]}


def engine_files_of(folder: Path) -> set[str]:
    """Engine files the live manifest and the one before it name (what a write leaves; the rest is garbage)."""
    conn = catalog.connect(folder / catalog.CATALOG)
    try:
        found = catalog.latest_manifest(conn)
        if found is None:
            return set()
        previous = catalog.previous_manifest(conn, found[0])
    finally:
        conn.close()
    return _named_files(found[1]) | (_named_files(previous) if previous is not None else set())


def _named_files(manifest: dict) -> set[str]:
    vectors = manifest["vectors"]
    return {manifest["lexical"], *dense.files(vectors["file"]), *(s["graph"] for s in vectors["segments"])}

