"""The knowledge graph of an index: triples with provenance, in one SQLite file inside the index folder.

    DIR/graph.sqlite   passages (id, chunk, title, content hash), triples (surface names, entity keys, the
                       passage they came from, character spans of subject and object there), meta (version and
                       the extraction settings)

Why SQLite (+ networkx for graph algorithms and graphml): the index already commits through SQLite, an update is
one transaction (delete a passage's triples, insert the new ones) so a crash leaves the last good graph, readers
keep the state they opened (WAL), and a neighbourhood is two indexed lookups per hop. Against kuzu 0.11.3 (an
embedded graph database) on 60k triples both load in ~1 s and replace a passage's triples in ~20 ms; SQLite
answers a 1-hop neighbourhood in 0.2 ms (kuzu 2.8 ms), a 2-hop one in 16 ms (kuzu 12 ms) (BENCHMARKS.md,
"Knowledge graph store"): no gain worth a 7.6 MB engine no longer developed upstream.

Entities are the `entity_key` of their surface names: every name with the same key is one node, its surface
forms kept as aliases ("《三体》", "三体" and "三体 " are one entity).
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ragtune.errors import RagtuneError
from ragtune.files import fsync_dir
from ragtune.index.graph.normalize import entity_key
from ragtune.index.passage import Passage
from ragtune.read.triples import Triple

GRAPH_FILE = "graph.sqlite"
_NEW_GRAPH = ".graph-new.sqlite"
_LOCK = ".graph.lock"
FORMAT = 1

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
_TRIPLE_COLUMNS = ("t.subject, t.predicate, t.object, t.subject_type, t.object_type, t.subject_key, t.object_key, "
                   "p.passage_id, p.chunk, p.title, t.subject_start, t.subject_end, t.object_start, t.object_end")
#: characters of a passage kept for `graph show` and the web page (the index holds the rest)
SNIPPET_CHARS = 160

Span = tuple[int, int]



@dataclass(frozen=True)
class StoredTriple:
    """A triple as the graph holds it: the extracted names, their entity keys, and where it was found."""

    subject: str
    predicate: str
    object: str
    subject_type: str
    object_type: str
    subject_key: str
    object_key: str
    passage_id: str
    chunk: int
    title: str
    subject_span: Span | None
    object_span: Span | None

    @property
    def span(self) -> Span | None:
        """The passage characters covering both mentions (one of them when only one was found verbatim)."""
        spans = [s for s in (self.subject_span, self.object_span) if s is not None]
        return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None

    @property
    def triple(self) -> Triple:
        return Triple(self.subject, self.predicate, self.object, self.subject_type, self.object_type)

    def to_json(self) -> dict:
        row = asdict(self)
        row["span"] = self.span
        return row


@dataclass(frozen=True)
class GraphPassage:
    """What the graph records of an index passage: enough to tell whether it changed, and to cite it."""

    key: str
    passage_id: str
    chunk: int
    title: str
    source: str
    sha256: str
    snippet: str

    @classmethod
    def of(cls, passage: Passage) -> GraphPassage:
        digest = hashlib.sha256(f"{passage.title}\n{passage.text}".encode()).hexdigest()
        return cls(passage_key(passage), passage.id, passage.chunk, passage.title, passage.source, digest,
                   passage.text[:SNIPPET_CHARS])


def passage_key(passage: Passage) -> str:
    """A passage's identity across index states: its file, document id and chunk number (rows change)."""
    return json.dumps([passage.source, passage.id, passage.chunk], ensure_ascii=False)


def find_span(text: str, name: str, near: int | None = None) -> Span | None:
    """Where `name` occurs in `text` (exactly, else ignoring case); of several, the one nearest `near`."""
    if not name:
        return None
    for haystack, needle in ((text, name), (text.lower(), name.lower())):
        if len(haystack) != len(text) or len(needle) != len(name):
            continue  # lower() changed lengths: its offsets would not be the text's
        starts, at = [], haystack.find(needle)
        while at >= 0:
            starts.append(at)
            at = haystack.find(needle, at + 1)
        if starts:
            start = starts[0] if near is None else min(starts, key=lambda s: abs(s - near))
            return start, start + len(name)
    return None


def locate(triple: Triple, text: str) -> tuple[Span | None, Span | None]:
    """Character spans of a triple's subject and object in its passage (the object's nearest the subject)."""
    subject = find_span(text, triple.subject)
    return subject, find_span(text, triple.object, near=subject[0] if subject else None)


def graph_path(index_dir: str | Path) -> Path:
    text = str(index_dir)
    if "://" in text:
        raise RagtuneError(f"{text}: graph: not supported for {text.split('://', 1)[0]} indexes yet (use a folder "
                           "index)")
    return Path(index_dir) / GRAPH_FILE


@contextmanager
def graph_lock(index_dir: str | Path) -> Iterator[None]:
    """One graph writer at a time per index (held from diffing the index until the commit, so no update is
    computed against a graph another writer is changing; readers never wait)."""
    path = graph_path(index_dir).with_name(_LOCK)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class GraphStore:
    """One opened state of an index's graph: every read answers from it, whatever writers commit meanwhile
    (a read transaction on the WAL file). Thread-safe; `close` when done (a server opens one per request)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("BEGIN")
            self._meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise RagtuneError(f"{path}: the graph is damaged ({exc}); delete it and run `ragtune graph build` "
                               "again") from exc
        self._lock = threading.Lock()

    # ---- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, index_dir: str | Path) -> GraphStore | None:
        """The index's graph as it is now; None when the index has no graph yet."""
        path = graph_path(index_dir)
        return cls(path) if path.is_file() else None

    @classmethod
    def exists(cls, index_dir: str | Path) -> bool:
        return "://" not in str(index_dir) and graph_path(index_dir).is_file()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- reading ---------------------------------------------------------------------------------
    def version(self) -> str:
        """A name of this state: it changes with every commit (a cache keyed by it never serves an old graph)."""
        return self._meta["version"]

    @property
    def settings(self) -> dict:
        """How the graph was extracted (generator, adapter, schema, limit): updates extract the same way."""
        return json.loads(self._meta.get("settings", "{}"))

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def entity_names(self) -> dict[str, list[str]]:
        """Entity key -> the surface names seen for it (aliases), most frequent (then plainest) first."""
        counts: dict[str, dict[str, int]] = {}
        for key, name, n in self._rows("SELECT subject_key, subject, count(*) FROM triples GROUP BY 1, 2 UNION ALL "
                                       "SELECT object_key, object, count(*) FROM triples GROUP BY 1, 2"):
            names = counts.setdefault(key, {})
            names[name] = names.get(name, 0) + n
        return {key: sorted(names, key=lambda s: (-names[s], _framed(s), s)) for key, names in counts.items()}

    def entity_passages(self) -> dict[str, set[str]]:
        """Entity key -> ids of the passages it occurs in as subject or object of a triple there."""
        found: dict[str, set[str]] = {}
        for key, passage_id in self._rows(
                "SELECT t.subject_key, p.passage_id FROM triples t JOIN passages p USING (pkey) UNION "
                "SELECT t.object_key, p.passage_id FROM triples t JOIN passages p USING (pkey)"):
            found.setdefault(key, set()).add(passage_id)
        return found

    def entity_types(self) -> dict[str, str]:
        """Entity key -> its most frequent non-empty type (schema-constrained extraction names them)."""
        counts: dict[str, dict[str, int]] = {}
        for key, kind, n in self._rows(
                "SELECT subject_key, subject_type, count(*) FROM triples WHERE subject_type != '' GROUP BY 1, 2 "
                "UNION ALL SELECT object_key, object_type, count(*) FROM triples WHERE object_type != '' "
                "GROUP BY 1, 2"):
            kinds = counts.setdefault(key, {})
            kinds[kind] = kinds.get(kind, 0) + n
        return {key: max(kinds, key=lambda k: (kinds[k], k)) for key, kinds in counts.items()}

    def triples(self, entity: str | None = None) -> list[StoredTriple]:
        """Every triple, or those with `entity` (a name or a key) as subject or object; in passage order."""
        sql = f"SELECT {_TRIPLE_COLUMNS} FROM triples t JOIN passages p USING (pkey)"
        if entity is None:
            return [_stored(r) for r in self._rows(sql + " ORDER BY t.id")]
        key = entity_key(entity)
        return [_stored(r) for r in self._rows(sql + " WHERE t.subject_key = ? OR t.object_key = ? ORDER BY t.id",
                                               (key, key))]

    def neighbourhood(self, entity: str, hops: int = 1) -> tuple[set[str], list[StoredTriple]]:
        """The entity keys within `hops` triples of `entity` (itself included) and the triples joining them."""
        frontier = {entity_key(entity)}
        seen, triples, ids = set(frontier), [], set()
        for _ in range(max(hops, 0)):
            found = set()
            for key in sorted(frontier):
                for triple in self.triples(key):
                    ident = (triple.passage_id, triple.chunk, triple.subject_key, triple.predicate, triple.object_key)
                    if ident not in ids:
                        ids.add(ident)
                        triples.append(triple)
                    found |= {triple.subject_key, triple.object_key}
            frontier = found - seen
            seen |= found
            if not frontier:
                break
        return seen, triples

    def passages(self) -> dict[str, GraphPassage]:
        """Passage key -> what the graph recorded of it (every passage extracted, with or without triples)."""
        return {row[0]: GraphPassage(*row) for row in self._rows(
            "SELECT pkey, passage_id, chunk, title, source, sha256, snippet FROM passages")}

    def passage(self, passage_id: str, chunk: int | None = None) -> GraphPassage | None:
        rows = self._rows("SELECT pkey, passage_id, chunk, title, source, sha256, snippet FROM passages "
                          "WHERE passage_id = ? ORDER BY chunk", (passage_id,))
        rows = [r for r in rows if chunk is None or r[2] == chunk]
        return GraphPassage(*rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        (passages,), = self._rows("SELECT count(*) FROM passages")
        (triples,), = self._rows("SELECT count(*) FROM triples")
        (entities,), = self._rows("SELECT count(*) FROM (SELECT subject_key FROM triples UNION "
                                  "SELECT object_key FROM triples)")
        return {"passages": passages, "triples": triples, "entities": entities}

    def top_entities(self, n: int) -> list[tuple[str, int]]:
        """The `n` entity keys in the most triples, with that count (a starting point for browsing)."""
        return [(k, c) for k, c in self._rows(
            "SELECT key, count(*) AS c FROM (SELECT subject_key AS key FROM triples UNION ALL SELECT object_key "
            "FROM triples) GROUP BY key ORDER BY c DESC, key LIMIT ?", (n,))]

    def resolve(self, name: str) -> str:
        """The entity key of `name`, or a one-line error naming the closest entities the graph has."""
        key = entity_key(name)
        if self._rows("SELECT 1 FROM triples WHERE subject_key = ? OR object_key = ? LIMIT 1", (key, key)):
            return key
        names = self.entity_names()
        close = difflib.get_close_matches(key, list(names), n=5, cutoff=0.5)
        close += [k for k in names if key and key in k and k not in close][: 5 - len(close)]
        hint = f"; close matches: {', '.join(names[k][0] for k in close)}" if close else ""
        raise RagtuneError(f"{self.path.parent}: no entity {name!r} in the graph{hint}")

    # ---- writing ---------------------------------------------------------------------------------
    @classmethod
    def write(cls, index_dir: str | Path, removed: Iterable[str], added: Iterable[tuple[GraphPassage, list[Triple],
              str]], settings: dict, expected: str | None = None) -> str:
        """Drop the triples of `removed` passage keys, add each (passage, its triples, its text) of `added`, and
        record `settings`: one transaction, so readers and a crash see the graph before or after, never between.
        The first write builds the file under another name and renames it into place. `expected`: the version
        the changes were computed against; another writer's commit since makes this one a RagtuneError (the
        caller runs the update again). Returns the new version."""
        path = graph_path(index_dir)
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
                version = _apply(conn, removed, added, settings, expected)
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

    # ---- export ----------------------------------------------------------------------------------
    def to_networkx(self):
        """A networkx MultiDiGraph: one node per entity key (label, aliases, type), one edge per triple."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        types = self.entity_types()
        for key, names in self.entity_names().items():
            graph.add_node(key, label=names[0], aliases="|".join(names), type=types.get(key, ""))
        for t in self.triples():
            span = t.span
            graph.add_edge(t.subject_key, t.object_key, predicate=t.predicate, subject=t.subject, object=t.object,
                           passage_id=t.passage_id, chunk=t.chunk, title=t.title,
                           span="" if span is None else f"{span[0]}-{span[1]}")
        return graph


def _apply(conn: sqlite3.Connection, removed: Iterable[str], added: Iterable[tuple[GraphPassage, list[Triple], str]],
           settings: dict, expected: str | None) -> str:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if expected is not None and meta.get("version", expected) != expected:
        raise RagtuneError("the graph changed while this update was being extracted; run it again")
    doomed = [(k,) for k in removed]
    conn.executemany("DELETE FROM triples WHERE pkey = ?", doomed)
    conn.executemany("DELETE FROM passages WHERE pkey = ?", doomed)
    for passage, triples, text in added:
        conn.execute("DELETE FROM triples WHERE pkey = ?", (passage.key,))
        conn.execute("INSERT OR REPLACE INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (passage.key, passage.passage_id, passage.chunk, passage.title, passage.source, passage.sha256,
                      passage.snippet))
        rows = []
        for t in dict.fromkeys(triples):  # a triple said twice in one passage is one fact
            subject_key, object_key = entity_key(t.subject), entity_key(t.object)
            if not subject_key or not object_key:
                continue
            subject, obj = locate(t, text)
            rows.append((passage.key, t.subject, t.predicate, t.object, t.subject_type, t.object_type, subject_key,
                         object_key, *(subject or (None, None)), *(obj or (None, None))))
        conn.executemany("INSERT INTO triples (pkey, subject, predicate, object, subject_type, object_type, "
                         "subject_key, object_key, subject_start, subject_end, object_start, object_end) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    gen = int(meta.get("version", "0-").split("-", 1)[0]) + 1
    version = f"{gen}-{uuid.uuid4().hex[:12]}"
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                     [("format", str(FORMAT)), ("version", version), ("settings", json.dumps(settings))])
    return version


def _framed(name: str) -> bool:
    """Whether a name starts or ends with punctuation ("(Marie Curie)", "“Warsaw”"): at equal counts the plain
    form is the label."""
    return not (name[:1].isalnum() and name[-1:].isalnum())


def _stored(row: tuple) -> StoredTriple:
    *fields, s0, s1, o0, o1 = row
    return StoredTriple(*fields, (s0, s1) if s0 is not None else None, (o0, o1) if o0 is not None else None)
