"""The graph of a PostgreSQL index: three tables in the index's own schema, beside its passages.

    graph_meta       format, version and the extraction settings
    graph_passages   each extracted passage: id, chunk, title, source, content hash, snippet
    graph_triples    surface names, entity keys, the passage they came from, spans of subject and object there

The `graph_` prefix keeps them apart from the index's tables (`meta`, `passages`, ...). They are what the SQLite
file holds, with the same guarantees as the index backend (index/backends/postgresql.py): an opened graph is one
REPEATABLE READ transaction, so it answers from the state it opened; a write is one transaction (the first one
creates the tables in it), so a crash or an error leaves the previous graph. A write takes a transaction advisory
lock before it checks the version it was computed against, so two writes never interleave; `lock` (one updater
from diff to commit) is a session advisory lock keyed by the schema, apart from the index's own write lock (`read`
updates the graph after its index commit). Names, keys and ids compare in the "C" collation, the byte order SQLite
compares in, so what SQL orders (`top_entities`' ties) comes out alike from both backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from zlib import crc32

from ragtune.errors import RagtuneError, first_line
from ragtune.index.backends.postgresql import _connect, _psycopg, _shown, _snapshot_connection, advisory_lock, split_url
from ragtune.index.graph.base import Added, GraphSql, GraphStore, Location, apply_changes

_SCHEMA = """
    CREATE SCHEMA IF NOT EXISTS {s};
    CREATE TABLE {s}.graph_meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE {s}.graph_passages (
        pkey text COLLATE "C" PRIMARY KEY, passage_id text COLLATE "C" NOT NULL, chunk integer NOT NULL,
        title text NOT NULL, source text NOT NULL, sha256 text NOT NULL, snippet text NOT NULL);
    CREATE TABLE {s}.graph_triples (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        pkey text COLLATE "C" NOT NULL REFERENCES {s}.graph_passages (pkey),
        subject text COLLATE "C" NOT NULL, predicate text NOT NULL, object text COLLATE "C" NOT NULL,
        subject_type text NOT NULL, object_type text NOT NULL,
        subject_key text COLLATE "C" NOT NULL, object_key text COLLATE "C" NOT NULL,
        subject_start integer, subject_end integer, object_start integer, object_end integer);
    CREATE INDEX graph_triples_subject ON {s}.graph_triples (subject_key);
    CREATE INDEX graph_triples_object ON {s}.graph_triples (object_key);
    CREATE INDEX graph_triples_passage ON {s}.graph_triples (pkey);
    CREATE INDEX graph_passages_id ON {s}.graph_passages (passage_id);
"""


class _PostgresSql(GraphSql):
    """The shared SQL with psycopg's `%s` parameters, on the schema's graph_* tables."""

    def __init__(self, conn, schema: str):
        self.conn = conn
        self.tables = {name: f"{schema}.graph_{name}" for name in ("meta", "passages", "triples")}

    def _native(self, sql: str) -> str:
        return sql.format(**self.tables).replace("%", "%%").replace("?", "%s")

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(self._native(sql), tuple(params))
            return cur.fetchall() if cur.description is not None else []

    def many(self, sql: str, params: Sequence[Sequence]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self._native(sql), params)

    def close(self) -> None:
        self.conn.close()


class PostgresGraph(GraphStore):
    """The graph in a `postgresql://` index's schema; a state is a read-only REPEATABLE READ transaction."""

    name = "postgresql"
    schemes = ("postgresql", "postgres")

    @classmethod
    def open(cls, location: Location) -> PostgresGraph | None:
        url = str(location)
        _, schema = split_url(url)
        conn = _snapshot_connection(url)
        conn.read_only = True
        try:
            if not _has_graph(conn, schema):
                conn.close()
                return None
            graph = cls(_PostgresSql(conn, schema), _shown(url))
        except BaseException:
            conn.close()
            raise
        if "version" not in graph._meta:  # tables another session created, in a commit this snapshot predates
            graph.close()
            return None
        return graph

    @classmethod
    def exists(cls, location: Location) -> bool:
        url = str(location)
        _, schema = split_url(url)
        with _connect(url, autocommit=True) as conn:
            return _has_graph(conn, schema)

    @classmethod
    def write(cls, location: Location, removed: Iterable[str], added: Iterable[Added], settings: dict,
              expected: str | None = None) -> str:
        url = str(location)
        _, schema = split_url(url)
        psycopg = _psycopg()
        conn = _connect(url)
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED  # each statement sees the last commit
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (crc32(f"ragtune-graph-write:{schema}".encode()),))
            if not _has_graph(conn, schema):
                conn.execute(_SCHEMA.format(s=schema))
            version = apply_changes(_PostgresSql(conn, schema), _shown(url), removed, added, settings, expected)
            conn.commit()
            return version
        except psycopg.Error as exc:
            raise RagtuneError(f"{_shown(url)}: could not write the graph ({first_line(exc)}); the previous graph "
                               "is still live") from exc
        finally:
            conn.close()  # before a commit: rolled back

    @classmethod
    def lock(cls, location: Location) -> AbstractContextManager:
        url = str(location)
        _, schema = split_url(url)
        return advisory_lock(url, f"ragtune-graph:{schema}", "another ragtune command is updating this index's "
                             "graph")

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return super()._rows(sql, params)
        except _psycopg().Error as exc:
            raise RagtuneError(f"{self.shown}: could not read the graph ({first_line(exc)})") from exc


def _has_graph(conn, schema: str) -> bool:
    return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.graph_meta",)).fetchone()[0])
