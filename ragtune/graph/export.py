"""The graph out of ragtune: JSON lines (one triple with its provenance a line) or GraphML (networkx writes it:
nodes are entities with their aliases, edges are triples), to a file (written whole, then renamed) or stdout."""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from pathlib import Path

from ragtune.errors import RagtuneError
from ragtune.index.graph.store import GraphStore

FORMATS = ("jsonl", "graphml")


def export_text(graph: GraphStore, fmt: str) -> str:
    """The whole graph in `fmt` ("jsonl" or "graphml")."""
    if fmt == "jsonl":
        return "".join(json.dumps(t.to_json(), ensure_ascii=False) + "\n" for t in graph.triples())
    if fmt == "graphml":
        import networkx as nx

        buffer = io.BytesIO()
        nx.write_graphml(graph.to_networkx(), buffer, encoding="utf-8")
        return buffer.getvalue().decode("utf-8")
    raise RagtuneError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")


def export_graph(graph: GraphStore, fmt: str, out: str | Path | None = None) -> int:
    """Write the graph to `out` (atomically: a crash leaves no half file) or stdout; returns the triples written."""
    text = export_text(graph, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        out = Path(out)
        try:
            fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, out)
        except OSError as exc:
            raise RagtuneError(f"{out}: cannot write the export ({exc.strerror or exc})") from None
    return graph.counts()["triples"]
