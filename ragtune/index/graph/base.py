"""What every graph backend offers, and everything about the graph that does not depend on where it is stored.

A backend (sqlite.py: a file in an index folder; postgresql.py: tables in a PostgreSQL index's schema) supplies a
connection (`GraphSql`), how to open one state of the graph, how to write one transaction, and the one-writer
lock. The queries the graph answers and the statements an update runs are written here once, in the SQL both
engines accept: `?` parameters and the tables as `{meta}`, `{passages}`, `{triples}`, which each backend's
`GraphSql` turns into its own dialect and table names.

Entities are the `entity_key` of their surface names: every name with the same key is one node, its surface forms
kept as aliases ("《三体》", "三体" and "三体 " are one entity).
"""

from __future__ import annotations

import difflib
import json
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar

from ragtune.errors import RagtuneError
from ragtune.index.graph.normalize import entity_key
from ragtune.index.graph.records import GraphPassage, StoredTriple, locate
from ragtune.read.triples import Triple

Location = str | Path
#: the layout of the graph's tables, recorded in its meta
FORMAT = 1
#: one passage's update: its record, the triples extracted from it, and the text they were extracted from
Added = tuple[GraphPassage, list[Triple], str]

_TRIPLE_COLUMNS = ("t.subject, t.predicate, t.object, t.subject_type, t.object_type, t.subject_key, t.object_key, "
                   "p.passage_id, p.chunk, p.title, t.subject_start, t.subject_end, t.object_start, t.object_end")
_PASSAGE_COLUMNS = "pkey, passage_id, chunk, title, source, sha256, snippet"


class GraphSql(ABC):
    """One connection to a graph's tables, running the shared SQL (`?` parameters; tables as {meta}, {passages},
    {triples}) in its engine's dialect."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """The rows a statement returns (none for a statement that returns none)."""

    @abstractmethod
    def many(self, sql: str, params: Sequence[Sequence]) -> None:
        """One statement run once per parameter row."""

    @abstractmethod
    def close(self) -> None:
        """End the connection (an uncommitted transaction is rolled back)."""


class GraphStore(ABC):
    """One opened state of an index's graph: every read answers from it, whatever writers commit meanwhile.
    Thread-safe; `close` when done (a server opens one per request).

    `open`, `exists`, `write` and `lock` called on GraphStore itself take any index location and go to the backend
    that stores its graph (store.py's factory): the one entry point callers use. Each backend implements them for
    its own locations."""

    #: the backend's name, and the URL schemes whose indexes it stores the graph of (none: an index folder)
    name: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, sql: GraphSql, shown: str):
        """`sql` is in the transaction the state is read from; `shown` names the index in messages."""
        self._sql, self.shown = sql, shown
        self._lock = threading.Lock()
        self._meta = dict(self._rows("SELECT key, value FROM {meta}"))

    # ---- opening, writing, locking (class level: a location) -------------------------------------
    @classmethod
    @abstractmethod
    def open(cls, location: Location) -> GraphStore | None:
        """The index's graph as it is now; None when the index has no graph yet."""
        return _backend(cls, location).open(location)

    @classmethod
    @abstractmethod
    def exists(cls, location: Location) -> bool:
        return _backend(cls, location).exists(location)

    @classmethod
    @abstractmethod
    def write(cls, location: Location, removed: Iterable[str], added: Iterable[Added], settings: dict,
              expected: str | None = None) -> str:
        """Drop the triples of `removed` passage keys, add each (passage, its triples, its text) of `added`, and
        record `settings`: one transaction, so readers and a crash see the graph before or after, never between.
        `expected`: the version the changes were computed against; another writer's commit since makes this one a
        RagtuneError (the caller runs the update again). Returns the new version."""
        return _backend(cls, location).write(location, removed, added, settings, expected)

    @classmethod
    @abstractmethod
    def lock(cls, location: Location) -> AbstractContextManager:
        """One graph writer at a time per index (held from diffing the index until the commit, so no update is
        computed against a graph another writer is changing; readers never wait)."""
        return _backend(cls, location).lock(location)

    def close(self) -> None:
        with self._lock:
            self._sql.close()

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
            return self._sql.rows(sql, params)

    def entity_names(self) -> dict[str, list[str]]:
        """Entity key -> the surface names seen for it (aliases), most frequent (then plainest) first."""
        counts: dict[str, dict[str, int]] = {}
        for _, key, name, n in sorted(self._rows(  # subjects first, then by key: one order on every engine
                "SELECT 0, subject_key, subject, count(*) FROM {triples} GROUP BY 2, 3 UNION ALL "
                "SELECT 1, object_key, object, count(*) FROM {triples} GROUP BY 2, 3")):
            names = counts.setdefault(key, {})
            names[name] = names.get(name, 0) + n
        return {key: sorted(names, key=lambda s: (-names[s], _framed(s), s)) for key, names in counts.items()}

    def entity_passages(self) -> dict[str, set[str]]:
        """Entity key -> ids of the passages it occurs in as subject or object of a triple there."""
        found: dict[str, set[str]] = {}
        for key, passage_id in sorted(self._rows(  # sorted here: the order entities are numbered in, on any engine
                "SELECT t.subject_key, p.passage_id FROM {triples} t JOIN {passages} p USING (pkey) UNION "
                "SELECT t.object_key, p.passage_id FROM {triples} t JOIN {passages} p USING (pkey)")):
            found.setdefault(key, set()).add(passage_id)
        return found

    def entity_types(self) -> dict[str, str]:
        """Entity key -> its most frequent non-empty type (schema-constrained extraction names them)."""
        counts: dict[str, dict[str, int]] = {}
        for key, kind, n in self._rows(
                "SELECT subject_key, subject_type, count(*) FROM {triples} WHERE subject_type != '' GROUP BY 1, 2 "
                "UNION ALL SELECT object_key, object_type, count(*) FROM {triples} WHERE object_type != '' "
                "GROUP BY 1, 2"):
            kinds = counts.setdefault(key, {})
            kinds[kind] = kinds.get(kind, 0) + n
        return {key: max(kinds, key=lambda k: (kinds[k], k)) for key, kinds in counts.items()}

    def triples(self, entity: str | None = None) -> list[StoredTriple]:
        """Every triple, or those with `entity` (a name or a key) as subject or object; in passage order."""
        sql = f"SELECT {_TRIPLE_COLUMNS} FROM {{triples}} t JOIN {{passages}} p USING (pkey)"
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
        return {row[0]: GraphPassage(*row) for row in self._rows(f"SELECT {_PASSAGE_COLUMNS} FROM {{passages}}")}

    def passage(self, passage_id: str, chunk: int | None = None) -> GraphPassage | None:
        rows = self._rows(f"SELECT {_PASSAGE_COLUMNS} FROM {{passages}} WHERE passage_id = ? ORDER BY chunk",
                          (passage_id,))
        rows = [r for r in rows if chunk is None or r[2] == chunk]
        return GraphPassage(*rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        (passages,), = self._rows("SELECT count(*) FROM {passages}")
        (triples,), = self._rows("SELECT count(*) FROM {triples}")
        (entities,), = self._rows("SELECT count(*) FROM (SELECT subject_key FROM {triples} UNION "
                                  "SELECT object_key FROM {triples}) AS entities")
        return {"passages": passages, "triples": triples, "entities": entities}

    def top_entities(self, n: int) -> list[tuple[str, int]]:
        """The `n` entity keys in the most triples, with that count (a starting point for browsing)."""
        return [(k, c) for k, c in self._rows(
            "SELECT key, count(*) AS c FROM (SELECT subject_key AS key FROM {triples} UNION ALL SELECT object_key "
            "FROM {triples}) AS mentions GROUP BY key ORDER BY c DESC, key LIMIT ?", (n,))]

    def resolve(self, name: str) -> str:
        """The entity key of `name`, or a one-line error naming the closest entities the graph has."""
        key = entity_key(name)
        if self._rows("SELECT 1 FROM {triples} WHERE subject_key = ? OR object_key = ? LIMIT 1", (key, key)):
            return key
        names = self.entity_names()
        close = difflib.get_close_matches(key, list(names), n=5, cutoff=0.5)
        close += [k for k in names if key and key in k and k not in close][: 5 - len(close)]
        hint = f"; close matches: {', '.join(names[k][0] for k in close)}" if close else ""
        raise RagtuneError(f"{self.shown}: no entity {name!r} in the graph{hint}")

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


def apply_changes(sql: GraphSql, shown: str, removed: Iterable[str], added: Iterable[Added], settings: dict,
                  expected: str | None) -> str:
    """An update's statements, inside the transaction the backend's `write` holds (it commits or rolls back,
    and keeps other writers out until then); the new version. `shown` names the index in messages."""
    meta = dict(sql.rows("SELECT key, value FROM {meta}"))
    if expected is not None and meta.get("version", expected) != expected:
        raise RagtuneError(f"{shown}: the graph changed while this update was being extracted; run it again")
    doomed = [(k,) for k in removed]
    sql.many("DELETE FROM {triples} WHERE pkey = ?", doomed)
    sql.many("DELETE FROM {passages} WHERE pkey = ?", doomed)
    for passage, triples, text in added:
        sql.rows("DELETE FROM {triples} WHERE pkey = ?", (passage.key,))
        sql.rows(f"INSERT INTO {{passages}} ({_PASSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pkey) "
                 "DO UPDATE SET passage_id = excluded.passage_id, chunk = excluded.chunk, title = excluded.title, "
                 "source = excluded.source, sha256 = excluded.sha256, snippet = excluded.snippet",
                 (passage.key, passage.passage_id, passage.chunk, passage.title, passage.source, passage.sha256,
                  passage.snippet))
        sql.many("INSERT INTO {triples} (pkey, subject, predicate, object, subject_type, object_type, subject_key, "
                 "object_key, subject_start, subject_end, object_start, object_end) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", triple_rows(passage, triples, text))
    gen = int(meta.get("version", "0-").split("-", 1)[0]) + 1
    version = f"{gen}-{uuid.uuid4().hex[:12]}"
    sql.many("INSERT INTO {meta} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
             [("format", str(FORMAT)), ("version", version), ("settings", json.dumps(settings))])
    return version


def triple_rows(passage: GraphPassage, triples: list[Triple], text: str) -> list[tuple]:
    """The {triples} rows of one passage: entity keys and spans found in its text; a triple said twice is one fact,
    and one whose subject or object has no key (punctuation only) is dropped."""
    rows = []
    for t in dict.fromkeys(triples):
        subject_key, object_key = entity_key(t.subject), entity_key(t.object)
        if not subject_key or not object_key:
            continue
        subject, obj = locate(t, text)
        rows.append((passage.key, t.subject, t.predicate, t.object, t.subject_type, t.object_type, subject_key,
                     object_key, *(subject or (None, None)), *(obj or (None, None))))
    return rows


def _backend(cls: type[GraphStore], location: Location) -> type[GraphStore]:
    """The backend that stores `location`'s graph, for a call on GraphStore itself (a backend that reaches here
    lacks its own implementation)."""
    if cls is not GraphStore:
        raise NotImplementedError(f"{cls.__name__} does not implement this")
    from ragtune.index.graph.store import graph_class  # the factory imports the backends, which import this module

    return graph_class(location)


def _framed(name: str) -> bool:
    """Whether a name starts or ends with punctuation ("(Marie Curie)", "“Warsaw”"): at equal counts the plain
    form is the label."""
    return not (name[:1].isalnum() and name[-1:].isalnum())


def _stored(row: tuple) -> StoredTriple:
    *fields, s0, s1, o0, o1 = row
    return StoredTriple(*fields, (s0, s1) if s0 is not None else None, (o0, o1) if o0 is not None else None)
