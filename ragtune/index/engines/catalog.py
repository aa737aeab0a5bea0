"""SQLite holds the passages, their lexical tokens, the sources and the manifest: its commit is the one atomic switch.

Readers keep one read transaction open (WAL mode), so they go on seeing the state they opened while a writer
commits; the engines beside it (tantivy, the vector files) only ever grow between compactions, and a reader keeps
only the keys its own transaction shows.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from ragtune.index.passage import Passage

CATALOG = "catalog.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS passages(key INTEGER PRIMARY KEY, id BLOB NOT NULL, chunk INTEGER NOT NULL,
    title BLOB NOT NULL, text BLOB NOT NULL, source BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS passages_by_source ON passages(source, key);
CREATE TABLE IF NOT EXISTS tokens(key INTEGER PRIMARY KEY, tokens TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(source BLOB PRIMARY KEY, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS manifests(gen INTEGER PRIMARY KEY, body TEXT NOT NULL);
"""
_COLUMNS = "id, chunk, title, text, source"
#: rows fetched at a time when a caller iterates every passage
_PAGE = 10_000


def _b(text: str) -> bytes:
    """Strings are stored as UTF-8 bytes with lone surrogates passed through (a source path that is not UTF-8
    must come back unchanged, so the next `read` still recognises its file; sqlite3 refuses such a str)."""
    return text.encode("utf-8", "surrogatepass")


def _s(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def _passage(row) -> Passage:
    pid, chunk, title, text, source = row
    return Passage(_s(pid), chunk, _s(title), _s(text), _s(source))


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from the server's threads."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA journal_size_limit=67108864")  # a bulk write's WAL shrinks back once checkpointed
    return conn


def create(path: Path) -> None:
    conn = connect(path)
    try:
        conn.executescript(_SCHEMA)
    finally:
        conn.close()


def latest_manifest(conn: sqlite3.Connection) -> tuple[int, dict] | None:
    row = conn.execute("SELECT gen, body FROM manifests ORDER BY gen DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), json.loads(row[1]))


def previous_manifest(conn: sqlite3.Connection, gen: int) -> dict | None:
    row = conn.execute("SELECT body FROM manifests WHERE gen < ? ORDER BY gen DESC LIMIT 1", (gen,)).fetchone()
    return None if row is None else json.loads(row[0])


def runs_of(keys: np.ndarray) -> list[list[int]]:
    """Sorted keys as [start, end) runs: keys are handed out in order and a source's passages together, so a
    manifest lists the live keys in a few runs (one per hole a delete left) and a reader needs no table scan."""
    if not len(keys):
        return []
    breaks = np.flatnonzero(np.diff(keys) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(keys)]])
    return [[int(keys[a]), int(keys[b - 1]) + 1] for a, b in zip(starts.tolist(), ends.tolist())]


def keys_of(runs: list[list[int]]) -> np.ndarray:
    if not runs:
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in runs])


class Snapshot:
    """One read transaction: the manifest, live keys and sources as of opening, and passages read on demand."""

    def __init__(self, path: Path, keys: np.ndarray | None = None):
        """`keys`: the live keys when the caller knows them (the writer that just committed this state)."""
        self.conn = connect(path)
        self._lock = threading.Lock()
        self.conn.execute("BEGIN")
        found = latest_manifest(self.conn)  # the first read fixes the transaction's snapshot
        if found is None:
            raise FileNotFoundError(f"{path.name} holds no manifest")
        self.gen, self.manifest = found
        if keys is None and "live" in self.manifest:
            keys = keys_of(self.manifest["live"])
        if keys is None:
            keys = np.fromiter((k for (k,) in self.conn.execute("SELECT key FROM passages ORDER BY key")),
                               dtype=np.int64)
        self.keys = keys
        self.sources = Sources(self)

    def passage(self, key: int) -> Passage:
        with self._lock:
            row = self.conn.execute(f"SELECT {_COLUMNS} FROM passages WHERE key = ?", (int(key),)).fetchone()
        if row is None:
            raise IndexError(f"no passage with key {key}")
        return _passage(row)

    def passages(self, keys: Iterable[int]) -> list[Passage]:
        return [self.passage(k) for k in keys]

    def iterate(self) -> Iterator[Passage]:
        """Every passage in key order, a page at a time (a big index never sits in memory at once)."""
        last = -1
        while True:
            with self._lock:
                page = self.conn.execute(f"SELECT key, {_COLUMNS} FROM passages WHERE key > ? ORDER BY key LIMIT ?",
                                         (last, _PAGE)).fetchall()
            if not page:
                return
            for row in page:
                yield _passage(row[1:])
            last = page[-1][0]

    def source_meta(self, source: str) -> dict | None:
        with self._lock:
            row = self.conn.execute("SELECT meta FROM sources WHERE source = ?", (_b(source),)).fetchone()
        return None if row is None else json.loads(row[0])

    def source_names(self) -> list[str]:
        with self._lock:
            return [_s(s) for (s,) in self.conn.execute("SELECT source FROM sources ORDER BY source")]

    def source_count(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT COUNT(*) FROM sources").fetchone()[0]

    def source_passages(self, source: str) -> list[Passage]:
        with self._lock:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM passages WHERE source = ? ORDER BY key",
                                     (_b(source),)).fetchall()
        return [_passage(row) for row in rows]

    def tokens(self, after: int = -1, limit: int = _PAGE) -> list[tuple[int, str]]:
        with self._lock:
            return self.conn.execute("SELECT t.key, t.tokens FROM tokens t JOIN passages p ON p.key = t.key "
                                     "WHERE t.key > ? ORDER BY t.key LIMIT ?", (after, limit)).fetchall()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("COMMIT")
        self.conn.close()

    def __del__(self):  # whoever holds the passages last (an index, or its passages alone) ends the transaction
        with contextlib.suppress(Exception):
            self.close()


class Sources(Mapping):
    """Source key -> metadata, read from the catalog on access, with a writer's changes laid over it (an index of
    a million passages has tens of thousands of files: opening it must not decode them all)."""

    def __init__(self, snapshot: Snapshot | None):
        self._snapshot = snapshot
        self.changed: dict[str, dict] = {}
        self.removed: set[str] = set()

    def __getitem__(self, key: str) -> dict:
        if key in self.changed:
            return self.changed[key]
        meta = None if key in self.removed or self._snapshot is None else self._snapshot.source_meta(key)
        if meta is None:
            raise KeyError(key)
        return meta

    def __iter__(self) -> Iterator[str]:
        stored = [] if self._snapshot is None else self._snapshot.source_names()
        yield from (k for k in stored if k not in self.removed and k not in self.changed)
        yield from self.changed

    def __len__(self) -> int:
        if not self.changed and not self.removed and self._snapshot is not None:
            return self._snapshot.source_count()
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def pop(self, key: str, default=None):
        self.changed.pop(key, None)
        self.removed.add(key)
        return default

    def update(self, other: dict[str, dict]) -> None:
        self.changed.update(other)


class Transaction:
    """The writer's side: one IMMEDIATE transaction whose COMMIT publishes everything at once."""

    def __init__(self, path: Path):
        self.conn = connect(path)
        self.conn.execute("BEGIN IMMEDIATE")

    def remove_sources(self, sources: Iterable[str]) -> np.ndarray:
        """Delete every passage (and its tokens) of `sources` and their metadata; returns the keys removed."""
        removed = []
        for source in sources:
            keys = [k for (k,) in self.conn.execute("SELECT key FROM passages WHERE source = ?", (_b(source),))]
            self.conn.executemany("DELETE FROM tokens WHERE key = ?", ((k,) for k in keys))
            self.conn.execute("DELETE FROM passages WHERE source = ?", (_b(source),))
            self.conn.execute("DELETE FROM sources WHERE source = ?", (_b(source),))
            removed += keys
        return np.asarray(sorted(removed), np.int64)

    def add_passages(self, keys: np.ndarray, passages: list[Passage], tokens: list[list[str]]) -> None:
        self.conn.executemany(f"INSERT INTO passages(key, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                              ((int(k), _b(p.id), p.chunk, _b(p.title), _b(p.text), _b(p.source))
                               for k, p in zip(keys, passages)))
        self.conn.executemany("INSERT INTO tokens(key, tokens) VALUES (?, ?)",
                              ((int(k), " ".join(t)) for k, t in zip(keys, tokens)))

    def set_sources(self, sources: dict[str, dict]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO sources(source, meta) VALUES (?, ?)",
                              ((_b(s), json.dumps(m)) for s, m in sources.items()))

    def publish(self, gen: int, manifest: dict) -> None:
        """Write manifest `gen`, keep the one before it (for readers still opening its files), commit."""
        self.conn.execute("INSERT INTO manifests(gen, body) VALUES (?, ?)", (gen, json.dumps(manifest)))
        self.conn.execute("DELETE FROM manifests WHERE gen < (SELECT MAX(gen) FROM manifests WHERE gen < ?)",
                          (gen,))
        self.conn.execute("COMMIT")

    def close(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()
