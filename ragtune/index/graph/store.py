"""The knowledge graph of an index, wherever the index lives: the graph stores by location, and the names callers
import.

    an index folder DIR                    sqlite.py: DIR/graph.sqlite
    postgresql://...?schema=NAME           postgresql.py: graph_* tables in the index's schema NAME

Callers use one entry point whatever the index is: `GraphStore.open(location)` (None: no graph yet),
`GraphStore.exists`, `GraphStore.write` and `graph_lock(location)`. A URL picks its store by scheme, as
index/backends/__init__.py picks index backends; anything else is a folder. What the graph holds and answers is
written once, in records.py (triples with provenance, passage records, spans) and base.py (queries, updates).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from ragtune.index.backends.base import class_for_url
from ragtune.index.graph.base import FORMAT, GraphStore, Location
from ragtune.index.graph.postgresql import PostgresGraph
from ragtune.index.graph.records import SNIPPET_CHARS, GraphPassage, Span, StoredTriple, find_span, locate, passage_key
from ragtune.index.graph.sqlite import GRAPH_FILE, SqliteGraph, graph_path

BACKENDS: dict[str, type[GraphStore]] = {cls.name: cls for cls in (SqliteGraph, PostgresGraph)}
#: the store of an index folder's graph
FOLDER_BACKEND: type[GraphStore] = SqliteGraph


def register(cls: type[GraphStore]) -> type[GraphStore]:
    """Add a graph store for the URL schemes it names (its module calls this; a class decorator)."""
    BACKENDS[cls.name] = cls
    return cls


def graph_class(location: Location) -> type[GraphStore]:
    """The store a URL's scheme names, else the folder one."""
    return class_for_url(str(location), BACKENDS, "graph store") or FOLDER_BACKEND


def graph_lock(location: Location) -> AbstractContextManager:
    """One graph writer at a time per index (see GraphStore.lock)."""
    return graph_class(location).lock(location)


__all__ = ["BACKENDS", "FORMAT", "GRAPH_FILE", "SNIPPET_CHARS", "GraphPassage", "GraphStore", "PostgresGraph", "Span",
           "SqliteGraph", "StoredTriple", "find_span", "graph_class", "graph_lock", "graph_path", "locate",
           "passage_key", "register"]
