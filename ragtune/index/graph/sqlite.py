"""The graph of an index folder: one SQLite file beside the index's own files.

    DIR/graph.sqlite   passages (id, chunk, title, content hash), triples (surface names, entity keys, the
                       passage they came from, character spans of subject and object there), meta (version and
                       the extraction settings)

Why SQLite (+ networkx for graph algorithms and graphml): the index already commits through SQLite, an update is
one transaction (delete a passage's triples, insert the new ones) so a crash leaves the last good graph, readers
keep the state they opened (WAL), and a neighbourhood is two indexed lookups per hop. Against kuzu 0.11.3 (an
embedded graph database) on 60k triples both load in ~1 s and replace a passage's triples in ~20 ms; SQLite
answers a 1-hop neighbourhood in 0.2 ms (kuzu 2.8 ms), a 2-hop one in 16 ms (kuzu 12 ms) (BENCHMARKS.md,
"Knowledge graph store"): no gain worth a 7.6 MB engine no longer developed upstream.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ragtune.errors import RagtuneError
from ragtune.files import fsync_dir
from ragtune.index.graph.base import Added, GraphSql, GraphStore, Location, apply_changes

GRAPH_FILE = "graph.sqlite"
_NEW_GRAPH = ".graph-new.sqlite"
_LOCK = ".graph.lock"
_TABLES = {"meta": "meta", "passages": "passages", "triples": "triples"}
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE passages (pkey TEXT PRIMARY KEY, passage_id TEXT NOT NULL, chunk INTEGER NOT NULL,
                       title TEXT NOT NULL, source TEXT NOT NULL, sha256 TEXT NOT NULL, snippet TEXT NOT NULL);
CREATE TABLE triples (id INTEGER PRIMARY KEY, pkey TEXT NOT NULL REFERENCES passages(pkey),
                      subject TEXT NOT NULL, predicate TEXT NOT NULL, object TEXT NOT NULL,
                      subject_type TEXT NOT NULL, object_type TEXT NOT NULL,
                      subject_key TEXT NOT NULL, object_key TEXT NOT NULL,
                      subject_start INTEGER, subject_end INTEGER, object_start INTEGER, object_end INTEGER);
CREATE INDEX triples_subject ON triples(subject_key);
CREATE INDEX triples_object ON triples(object_key);
CREATE INDEX triples_passage ON triples(pkey);
"""


def graph_path(index_dir: Location) -> Path:
    return Path(index_dir) / GRAPH_FILE


class _SqliteSql(GraphSql):
    """The shared SQL as it is (SQLite takes `?` parameters and the upserts), on the file's own table names."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return self.conn.execute(sql.format(**_TABLES), params).fetchall()

    def many(self, sql: str, params: Sequence[Sequence]) -> None:
        self.conn.executemany(sql.format(**_TABLES), params)

    def close(self) -> None:
        self.conn.close()


class SqliteGraph(GraphStore):
    """The graph in DIR/graph.sqlite; a state is a read transaction on the WAL file."""

    name = "sqlite"

    @classmethod
    def open(cls, location: Location) -> SqliteGraph | None:
        path = graph_path(location)
        if not path.is_file():
            return None
        conn = None
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("BEGIN")
            return cls(_SqliteSql(conn), str(path.parent))
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise RagtuneError(f"{path}: the graph is damaged ({exc}); delete it and run `ragtune graph build` "
                               "again") from exc

    @classmethod
    def exists(cls, location: Location) -> bool:
        return graph_path(location).is_file()

    @classmethod
    def write(cls, location: Location, removed: Iterable[str], added: Iterable[Added], settings: dict,
              expected: str | None = None) -> str:
        """The first write builds the file under another name and renames it into place (a reader never sees a
        graph without tables); later ones are a BEGIN IMMEDIATE transaction, which also keeps writers apart."""
        path = graph_path(location)
        first = not path.is_file()
        target = path.with_name(_NEW_GRAPH) if first else path
        if first:
            for leftover in path.parent.glob(_NEW_GRAPH + "*"):
                leftover.unlink()
        conn = sqlite3.connect(target, isolation_level=None, timeout=60)
        try:
            if first:
                conn.executescript(_SCHEMA)
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = apply_changes(_SqliteSql(conn), str(path.parent), removed, added, settings, expected)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise RagtuneError(f"{path}: could not write the graph ({exc}); the previous graph is still live"
                               ) from exc
        finally:
            conn.close()
        if first:
            os.replace(target, path)
            fsync_dir(path.parent)
        return version

    @classmethod
    @contextmanager
    def lock(cls, location: Location) -> Iterator[None]:
        """An flock on DIR/.graph.lock (released if the process dies)."""
        with open(graph_path(location).with_name(_LOCK), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
