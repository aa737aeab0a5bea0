"""The PostgreSQL + pgvector index backend: passages, sources, vectors (HNSW) and BM25 postings in tables.

An index is a schema in a database, named by a URL: ``postgresql://user@host:port/db?schema=NAME`` (schema
"ragtune" when not given; the rest of the query string goes to libpq unchanged).

Lexical search is BM25 computed in SQL over a postings table of ragtune's own jieba/stemmed tokens, with the
formula, k1 and b of the embedded store's bm25s ("lucene": the same scores): PostgreSQL's own ts_rank weighs no
document frequency, so the tables keep what BM25 needs instead (df per term; tf and length per posting; corpus
totals), right after every add and delete. Dense search is pgvector's HNSW (inner product; `index.hnsw_*`),
exact below `index.exact_below` passages, as in the embedded backend.

An opened index is one REPEATABLE READ transaction: every read sees the state it opened. A writer (holding
`write_lock`, a session advisory lock) changes the tables inside that same transaction and `commit` publishes all
of it at once; a crash or a failed write rolls back to the previous state. Rows are positions in passage-id
order in that state; a passage's id (`pid`) never changes.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zlib import crc32

import numpy as np

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.backends.base import IndexBackend, Location
from ragtune.index.passage import Passage
from ragtune.index.script import script_normalizer

FORMAT_VERSION = 1
DEFAULT_SCHEMA = "ragtune"
#: rows loaded at once into an empty index above which the HNSW graph is built after the COPY (far faster
#: than inserting row by row into the graph)
BUILD_AFTER_LOAD_ROWS = 5_000
#: rows added by one write after which its commit refreshes the planner's statistics
ANALYZE_AFTER_ROWS = 1_000
#: how long a DDL step (re-embedding changes the vector column) waits for readers' snapshots to end
DDL_LOCK_TIMEOUT = "10s"
_held = threading.local()
#: server-side cursor names (one per iteration, so two may be open at once)
_cursors = itertools.count()


class PostgresIndex(IndexBackend):
    """One index (a schema) as opened: a snapshot to read, and the transaction its writes go into."""

    name = "postgresql"
    schemes = ("postgresql", "postgres")

    def __init__(self, url: str, config: Config | None, conn):
        self.url = url
        self.conninfo, self.schema = split_url(url)
        self.settings = (config or Config()).index
        self.conn = conn
        self._dirty = self._analyze = False
        self._forget()
        meta = _read_meta(conn, self.schema, self.shown)
        self.embedder, self.dim, self.script = meta["embedder"], int(meta["dim"]), meta["script"]
        self.bm25_k1, self.bm25_b = float(meta["bm25_k1"]), float(meta["bm25_b"])
        self._normalize = script_normalizer(self.script)
        self._ef_search = 0

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, location: Location, config: Config | None = None) -> PostgresIndex:
        url = str(location)
        conn = _snapshot_connection(url)
        try:
            return cls(url, config, conn)
        except BaseException:
            conn.close()
            raise

    @classmethod
    def create(cls, location: Location, config: Config, embedder: str, dim: int) -> PostgresIndex:
        """The schema and its empty tables, in the transaction the first `commit` publishes."""
        url = str(location)
        _, schema = split_url(url)
        conn = _snapshot_connection(url)
        try:
            foreign = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone()[0]
            if foreign:
                raise RagtuneError(f"{_shown(url)}: schema {schema!r} holds tables but no ragtune index; "
                                   "name a new one with ?schema=")
            c = config.index
            conn.execute(_SCHEMA.format(s=schema, dim=int(dim)))
            _create_hnsw(conn, schema, c.hnsw_m, c.hnsw_ef_construction)
            meta = {"format": FORMAT_VERSION, "embedder": embedder, "dim": int(dim), "script": c.script,
                    "bm25_k1": c.bm25_k1, "bm25_b": c.bm25_b}
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {schema}.meta VALUES (%s, %s)",
                                [(k, json.dumps(v)) for k, v in meta.items()])
            index = cls(url, config, conn)
            index._dirty = True
            return index
        except BaseException:
            conn.close()
            raise

    @classmethod
    def exists(cls, location: Location) -> bool:
        url = str(location)
        _, schema = split_url(url)
        with _connect(url, autocommit=True) as conn:
            return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.meta",)).fetchone()[0])

    @classmethod
    def manifest(cls, location: Location) -> dict:
        url = str(location)
        _, schema = split_url(url)
        with _connect(url, autocommit=True) as conn:
            meta = _read_meta(conn, schema, _shown(url))
            passages, version = conn.execute(f"SELECT passages, version FROM {schema}.totals").fetchone()
        return {**meta, "passages": int(passages), "backend": cls.name, "version": _version_name(version)}

    @classmethod
    def version(cls, location: Location) -> str | None:
        url = str(location)
        _, schema = split_url(url)
        with _connect(url, autocommit=True) as conn:
            if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema}.totals",)).fetchone()[0]:
                return None
            return _version_name(conn.execute(f"SELECT version FROM {schema}.totals").fetchone()[0])

    @classmethod
    @contextmanager
    def write_lock(cls, location: Location, create: bool = True):
        """A session advisory lock keyed by the schema, on its own connection (released if the process dies)."""
        url = str(location)
        _, schema = split_url(url)
        held: set[str] = _held.__dict__.setdefault("urls", set())
        if url in held:
            yield
            return
        if not create and not cls.exists(url):
            raise RagtuneError(f"{_shown(url)}: no index here; run `ragtune read PATH... --index {url}` first")
        with advisory_lock(url, f"ragtune:{schema}", "another ragtune command is writing this index"):
            held.add(url)
            try:
                yield
            finally:
                held.discard(url)

    def close(self) -> None:
        """End the snapshot (uncommitted changes are dropped) and the connection."""
        self.conn.close()

    # ---- reading -------------------------------------------------------------------------
    @property
    def location(self) -> str:
        return self.url

    @property
    def shown(self) -> str:
        return _shown(self.url)

    def __len__(self) -> int:
        if self._size is None:
            self._size, self._tokens = self._one(f"SELECT passages, tokens FROM {self.schema}.totals")
        return int(self._size)

    @property
    def passages(self) -> Sequence[Passage]:
        return _Passages(self)

    @property
    def sources(self) -> Mapping[str, dict]:
        if self._sources is None:
            self._sources = dict(self.conn.execute(f"SELECT key, meta FROM {self.schema}.sources ORDER BY key"))
        return self._sources

    def search_text(self, text: str) -> str:
        return self._normalize(text)

    def source_passages(self, source: str) -> list[Passage]:
        return [_passage(r) for r in self.conn.execute(
            f"SELECT {_PASSAGE_COLUMNS} FROM {self.schema}.passages WHERE source = %s ORDER BY pid", (source,))]

    def lexical_top(self, tokens: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        if not tokens or not len(self) or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        pids, scores = _columns(self.conn.execute(
            _BM25.format(s=self.schema, only="") + " ORDER BY score DESC, pid LIMIT %(limit)s",
            {**self._bm25_parameters(tokens), "limit": int(n)}).fetchall())
        return self._rows_of(pids), scores

    def lexical_scores(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        if not tokens or not len(rows):
            return np.zeros(len(rows), np.float32)
        pids = self._pids()[rows]
        found, scores = _columns(self.conn.execute(
            _BM25.format(s=self.schema, only="AND p.pid = ANY(%(pids)s)"),
            {**self._bm25_parameters(tokens), "pids": pids.tolist()}).fetchall())
        score_of = dict(zip(found.tolist(), scores.tolist()))
        return np.array([score_of.get(pid, 0.0) for pid in pids.tolist()], np.float32)

    def dense_top(self, vectors: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """HNSW search (ef_search at least `n`); exact below `exact_below` passages, where `+ 0` keeps the
        planner off the index and a full scan ranks every row."""
        queries = np.atleast_2d(np.asarray(vectors, np.float32))
        n = min(int(n), len(self))
        scores = np.zeros((len(queries), max(n, 0)), np.float32)
        rows = np.full((len(queries), max(n, 0)), -1, np.int64)
        if n <= 0:
            return scores, rows
        exact = len(self) < self.settings.exact_below
        if not exact:
            self._raise_ef_search(n)
        order = "(embedding <#> %(q)s) + 0" if exact else "embedding <#> %(q)s"
        sql = f"SELECT pid, -(embedding <#> %(q)s) FROM {self.schema}.passages ORDER BY {order} LIMIT %(n)s"
        for i, query in enumerate(queries):
            pids, found = _columns(self.conn.execute(sql, {"q": query, "n": n}).fetchall())
            scores[i, :len(pids)], rows[i, :len(pids)] = found, self._rows_of(pids)
        return scores, rows

    def dense_scores(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact inner products, in float32 numpy as the embedded backend computes them."""
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return np.zeros(0, np.float32)
        return self._vectors_of(self._pids()[rows]) @ np.asarray(vector, np.float32)

    def vectors(self) -> np.ndarray:
        out = np.empty((len(self), self.dim), np.float32)
        with self.conn.cursor(name=f"ragtune_vectors_{next(_cursors)}", binary=True) as cur:
            cur.itersize = 5_000
            cur.execute(f"SELECT embedding FROM {self.schema}.passages ORDER BY pid")
            for i, (vector,) in enumerate(cur):
                out[i] = _array(vector)
        return out

    # ---- changing ------------------------------------------------------------------------
    def replace(self, removed_sources: set[str], new_sources: dict[str, dict], passages: list[Passage],
                vectors: np.ndarray, tokens: list[list[str]]) -> int:
        dropped = self._delete_sources(sorted(removed_sources))
        if passages:
            self._insert(passages, np.asarray(vectors, np.float32).reshape(len(passages), -1), tokens)
        if new_sources:
            with self.conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {self.schema}.sources VALUES (%s, %s) "
                                "ON CONFLICT (key) DO UPDATE SET meta = EXCLUDED.meta",
                                [(k, json.dumps(v, ensure_ascii=False)) for k, v in new_sources.items()])
        self._dirty = True
        self._forget()
        return dropped

    def replace_vectors(self, embedder: str, vectors: np.ndarray) -> None:
        """A new vector column type when the dimension changes: DDL, so it waits up to DDL_LOCK_TIMEOUT for
        readers (a running `serve`) to leave their snapshots, then fails in one line."""
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or len(vectors) != len(self):
            raise ValueError(f"{len(vectors)} vectors for {len(self)} passages")
        s, dim = self.schema, int(vectors.shape[1])
        psycopg = _psycopg()
        try:
            self.conn.execute(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT}'")
            self.conn.execute(f"DROP INDEX IF EXISTS {s}.passages_hnsw")
            self.conn.execute(f"ALTER TABLE {s}.passages ALTER COLUMN embedding DROP NOT NULL, "
                              f"ALTER COLUMN embedding TYPE vector({dim}) USING NULL")
        except psycopg.errors.LockNotAvailable as exc:
            self.conn.rollback()
            raise RagtuneError(f"{self.shown}: readers (a running `ragtune serve`?) kept the index busy for "
                               f"{DDL_LOCK_TIMEOUT}; stop them and re-embed again") from exc
        pids = self._pids().tolist()  # not inside the COPY: the connection runs one statement at a time
        self.conn.execute("CREATE TEMP TABLE new_vectors (pid bigint PRIMARY KEY, embedding vector) ON COMMIT DROP")
        with self.conn.cursor().copy("COPY new_vectors FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "vector"])
            for pid, vector in zip(pids, vectors):
                copy.write_row((pid, vector))
        self.conn.execute(f"UPDATE {s}.passages p SET embedding = n.embedding FROM new_vectors n WHERE n.pid = p.pid")
        self.conn.execute(f"ALTER TABLE {s}.passages ALTER COLUMN embedding SET NOT NULL")
        _create_hnsw(self.conn, s, self.settings.hnsw_m, self.settings.hnsw_ef_construction)
        for key, value in (("embedder", embedder), ("dim", dim)):
            self.conn.execute(f"UPDATE {s}.meta SET value = %s WHERE key = %s", (json.dumps(value), key))
        self.embedder, self.dim, self._dirty = embedder, dim, True
        self._forget()

    def commit(self) -> str:
        """Publish this transaction's changes (a new version) and take a fresh snapshot."""
        if self._dirty:
            self.conn.execute(f"UPDATE {self.schema}.totals SET version = version + 1")
        if self._analyze:  # planner statistics for a table that grew a lot (a BM25 join planned blind is slow)
            self.conn.execute(f"ANALYZE {self.schema}.passages, {self.schema}.postings, {self.schema}.terms")
            self._analyze = False
        version = self._one(f"SELECT version FROM {self.schema}.totals")[0]
        self.conn.commit()
        self._dirty = False
        self._forget()
        return _version_name(version)

    def optimize(self) -> None:
        """VACUUM ANALYZE the tables: deleted rows leave the heap, the HNSW graph and the postings."""
        if self._dirty:
            raise RagtuneError(f"{self.shown}: commit the changes before optimizing")
        self.conn.rollback()
        with _connect(self.url, autocommit=True) as conn:
            for table in ("passages", "postings", "terms", "sources"):
                conn.execute(f"VACUUM (ANALYZE) {self.schema}.{table}")
        self._forget()

    # ---- internals -----------------------------------------------------------------------
    def _forget(self) -> None:
        """Drop what was cached from the snapshot (after a write or a new snapshot)."""
        self._size = self._tokens = self._pid_array = self._sources = None
        self._cache: dict[int, Passage] = {}

    def _one(self, sql: str, params=None) -> tuple:
        return self.conn.execute(sql, params).fetchone()

    def _pids(self) -> np.ndarray:
        """Passage ids by row (ascending: row order is id order)."""
        if self._pid_array is None:
            with self.conn.cursor(binary=True) as cur:
                cur.execute(f"SELECT pid FROM {self.schema}.passages ORDER BY pid")
                self._pid_array = np.fromiter((r[0] for r in cur), np.int64)
        return self._pid_array

    def _rows_of(self, pids: np.ndarray) -> np.ndarray:
        return np.searchsorted(self._pids(), pids).astype(np.int64)

    def _vectors_of(self, pids: np.ndarray) -> np.ndarray:
        with self.conn.cursor(binary=True) as cur:
            found = dict(cur.execute(f"SELECT pid, embedding FROM {self.schema}.passages WHERE pid = ANY(%s)",
                                     (pids.tolist(),)).fetchall())
        return np.stack([_array(found[int(p)]) for p in pids])

    def _bm25_parameters(self, tokens: list[str]) -> dict:
        len(self)
        return {"terms": list(tokens), "n": float(self._size), "k1": self.bm25_k1, "b": self.bm25_b,
                "avgdl": max(float(self._tokens) / max(float(self._size), 1.0), 1e-9)}

    def _raise_ef_search(self, n: int) -> None:
        """HNSW returns at most ef_search rows: keep it at least `n` (pgvector's ceiling is 1000)."""
        wanted = min(max(self.settings.hnsw_ef_search, n), 1000)
        if wanted != self._ef_search:
            self.conn.execute(f"SET hnsw.ef_search = {int(wanted)}")
            self._ef_search = wanted

    def _fetch(self, rows: list[int]) -> list[Passage]:
        missing = [r for r in rows if r not in self._cache]
        if missing:
            pids = self._pids()[np.asarray(missing, np.int64)].tolist()
            found = {r[0]: _passage(r[1:]) for r in self.conn.execute(
                f"SELECT pid, {_PASSAGE_COLUMNS} FROM {self.schema}.passages WHERE pid = ANY(%s)", (pids,))}
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache.update({row: found[pid] for row, pid in zip(missing, pids)})
        return [self._cache[r] for r in rows]

    def _delete_sources(self, keys: list[str]) -> int:
        if not keys:
            return 0
        s = self.schema
        self.conn.execute(f"DELETE FROM {s}.sources WHERE key = ANY(%s)", (keys,))
        pids = [r[0] for r in self.conn.execute(f"SELECT pid FROM {s}.passages WHERE source = ANY(%s)", (keys,))]
        if not pids:
            return 0
        self.conn.execute(f"""
            WITH gone AS (DELETE FROM {s}.postings WHERE pid = ANY(%(p)s) RETURNING tid),
                 counts AS (SELECT tid, count(*) AS n FROM gone GROUP BY tid)
            UPDATE {s}.terms t SET df = t.df - counts.n FROM counts WHERE t.tid = counts.tid""", {"p": pids})
        self.conn.execute(f"DELETE FROM {s}.terms WHERE df <= 0")
        self.conn.execute(f"""
            WITH gone AS (DELETE FROM {s}.passages WHERE pid = ANY(%(p)s) RETURNING length)
            UPDATE {s}.totals SET passages = passages - (SELECT count(*) FROM gone),
                                  tokens = tokens - (SELECT coalesce(sum(length), 0) FROM gone)""", {"p": pids})
        return len(pids)

    def _insert(self, passages: list[Passage], vectors: np.ndarray, tokens: list[list[str]]) -> None:
        """Binary COPY of the passages (ids drawn from their sequence) and of their postings."""
        if len(vectors) != len(passages) or len(tokens) != len(passages):
            raise ValueError(f"{len(passages)} passages, {len(vectors)} vectors, {len(tokens)} token lists")
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have {vectors.shape[1]} dimensions, the index {self.dim}")
        s, conn = self.schema, self.conn
        self._analyze = self._analyze or len(passages) >= ANALYZE_AFTER_ROWS
        rebuild = len(passages) >= BUILD_AFTER_LOAD_ROWS and len(self) == 0 and self._drop_hnsw()
        pids = [r[0] for r in conn.execute(
            f"SELECT nextval(pg_get_serial_sequence('{s}.passages', 'pid')) FROM generate_series(1, %s)",
            (len(passages),))]
        with conn.cursor().copy(f"COPY {s}.passages (pid, doc_id, chunk, title, body, source, length, embedding) "
                                "FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "int4", "text", "text", "text", "int4", "vector"])
            for pid, p, vector, toks in zip(pids, passages, vectors, tokens):
                copy.write_row((pid, p.id, p.chunk, p.title, p.text, p.source, len(toks), vector))
        counts = [Counter(t) for t in tokens]
        tids = self._add_terms(Counter(term for c in counts for term in c))
        with conn.cursor().copy(f"COPY {s}.postings (tid, pid, tf, length) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int8", "int4", "int4"])
            for pid, c, toks in zip(pids, counts, tokens):
                for term, tf in c.items():
                    copy.write_row((tids[term], pid, tf, len(toks)))
        conn.execute(f"UPDATE {s}.totals SET passages = passages + %s, tokens = tokens + %s",
                     (len(passages), sum(len(t) for t in tokens)))
        if rebuild:
            _create_hnsw(conn, s, self.settings.hnsw_m, self.settings.hnsw_ef_construction)

    def _drop_hnsw(self) -> bool:
        """Drop the graph before a big first load, unless a reader holds the table (then insert into it)."""
        psycopg = _psycopg()
        try:
            with self.conn.transaction():  # a savepoint: a lock timeout undoes only this
                self.conn.execute("SET LOCAL lock_timeout = '1s'")
                self.conn.execute(f"DROP INDEX IF EXISTS {self.schema}.passages_hnsw")
        except psycopg.errors.LockNotAvailable:
            return False
        return True

    def _add_terms(self, df: Counter) -> dict[str, int]:
        """Add `df` to each term's document frequency (new terms get an id); term -> id."""
        if not df:
            return {}
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS new_df (term text, df integer) ON COMMIT DELETE ROWS")
        self.conn.execute("TRUNCATE new_df")
        with self.conn.cursor().copy("COPY new_df (term, df) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int4"])
            for term, n in df.items():
                copy.write_row((term, n))
        s = self.schema
        return dict(self.conn.execute(f"""
            INSERT INTO {s}.terms (term, df) SELECT term, df FROM new_df ORDER BY term
            ON CONFLICT (term) DO UPDATE SET df = {s}.terms.df + EXCLUDED.df RETURNING term, tid""").fetchall())


class _Passages(Sequence):
    """`index.passages`: rows fetched on access (a few at a time), streamed in row order when iterated."""

    def __init__(self, index: PostgresIndex):
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, row):
        n = len(self)
        if isinstance(row, slice):
            return self.index._fetch(list(range(n))[row])
        row = int(row)
        if not -n <= row < n:
            raise IndexError(f"passage row {row} of {n}")
        return self.index._fetch([row % n])[0]

    def __iter__(self) -> Iterator[Passage]:
        with self.index.conn.cursor(name=f"ragtune_passages_{next(_cursors)}") as cur:  # iterations may nest
            cur.itersize = 5_000
            cur.execute(f"SELECT {_PASSAGE_COLUMNS} FROM {self.index.schema}.passages ORDER BY pid")
            for r in cur:
                yield _passage(r)


# ---- SQL -------------------------------------------------------------------------------------
_SCHEMA = """
    CREATE SCHEMA IF NOT EXISTS {s};
    CREATE TABLE {s}.meta (key text PRIMARY KEY, value jsonb NOT NULL);
    CREATE TABLE {s}.sources (key text PRIMARY KEY, meta jsonb NOT NULL);
    CREATE TABLE {s}.passages (
        pid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        doc_id text NOT NULL, chunk integer NOT NULL, title text NOT NULL, body text NOT NULL,
        source text NOT NULL, length integer NOT NULL, embedding vector({dim}) STORAGE PLAIN NOT NULL);
    CREATE INDEX ON {s}.passages (source, pid);
    CREATE TABLE {s}.terms (tid integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, term text NOT NULL UNIQUE,
                            df integer NOT NULL);
    CREATE TABLE {s}.postings (tid integer NOT NULL, pid bigint NOT NULL, tf integer NOT NULL,
                               length integer NOT NULL, PRIMARY KEY (tid, pid) INCLUDE (tf, length));
    CREATE INDEX ON {s}.postings (pid);
    CREATE TABLE {s}.totals (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                             passages bigint NOT NULL, tokens bigint NOT NULL, version bigint NOT NULL);
    INSERT INTO {s}.totals VALUES (true, 0, 0, 0);
"""
#: BM25 ("lucene" idf and tf normalisation, as bm25s computes it) of each passage holding a query term; a
#: repeated query token counts again, as in bm25s
_BM25 = """
    SELECT p.pid, sum(ln(1 + (%(n)s - t.df + 0.5) / (t.df + 0.5)) * p.tf
                      / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length / %(avgdl)s))) AS score
    FROM unnest(%(terms)s::text[]) AS q(term) JOIN {s}.terms t ON t.term = q.term
    JOIN {s}.postings p ON p.tid = t.tid {only}
    GROUP BY p.pid"""
_PASSAGE_COLUMNS = "doc_id, chunk, title, body, source"


def _create_hnsw(conn, schema: str, m: int, ef_construction: int) -> None:
    conn.execute(f"CREATE INDEX IF NOT EXISTS passages_hnsw ON {schema}.passages USING hnsw "
                 f"(embedding vector_ip_ops) WITH (m = {int(m)}, ef_construction = {int(ef_construction)})")


# ---- connections and URLs --------------------------------------------------------------------
@contextmanager
def advisory_lock(url: str, name: str, holder: str) -> Iterator[None]:
    """A session advisory lock keyed by `name`, on its own connection (released if the process dies); while
    another session holds it, says who (`holder`) and waits."""
    key = crc32(name.encode())
    with _connect(url, autocommit=True) as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            print(f"{_shown(url)}: {holder}; waiting for it to finish", file=sys.stderr, flush=True)
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def split_url(url: str) -> tuple[str, str]:
    """(libpq URL, schema name): `schema=` is ragtune's, the rest of the query string is libpq's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), DEFAULT_SCHEMA)
    if not (schema[:1].isalpha() and schema.isascii() and schema.replace("_", "").isalnum()
            and schema == schema.lower()):
        raise RagtuneError(f"{_shown(url)}: schema {schema!r} must be lower-case letters, digits and _ "
                           "(a letter first)")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        raise RagtuneError("a postgresql:// index needs psycopg and pgvector: pip install 'ragtune[postgres]'") from exc
    return psycopg


def _connect(url: str, autocommit: bool = False):
    """A connection with pgvector's types (creating the extension when the database lacks it)."""
    psycopg = _psycopg()
    from pgvector.psycopg import register_vector

    conninfo, _ = split_url(url)
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise RagtuneError(f"{_shown(url)}: cannot connect: {_first_line(exc)}") from exc
    try:
        if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
    except psycopg.Error as exc:
        conn.close()
        raise RagtuneError(f"{_shown(url)}: the pgvector extension is missing and could not be created "
                           f"({_first_line(exc)})") from exc
    conn.autocommit = autocommit
    return conn


def _snapshot_connection(url: str):
    conn = _connect(url)
    conn.isolation_level = _psycopg().IsolationLevel.REPEATABLE_READ
    return conn


def _read_meta(conn, schema: str, shown: str) -> dict:
    psycopg = _psycopg()
    try:
        meta = dict(conn.execute(f"SELECT key, value FROM {schema}.meta").fetchall())
    except psycopg.errors.UndefinedTable as exc:
        if not conn.autocommit:
            conn.rollback()
        raise RagtuneError(f"{shown}: no index here; run `ragtune read PATH... --index {shown}` first") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise RagtuneError(f"{shown}: index format {meta.get('format')} is not {FORMAT_VERSION}")
    return meta


def _version_name(version: int) -> str:
    return f"v{int(version)}"


def _passage(row: tuple) -> Passage:
    return Passage(row[0], row[1], row[2], row[3], sys.intern(row[4]))


def _array(vector) -> np.ndarray:
    """A vector as pgvector's loaders give it (numpy from text, `Vector` from binary) as float32 numpy."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, np.float32)


def _columns(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    scores = np.fromiter((r[1] for r in rows), np.float32, len(rows))
    return ids, scores


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
