"""An entity's neighbourhood as nodes and edges with their evidence: what `graph show` prints and the server's
/v1/graph returns (the web page draws it)."""

from __future__ import annotations

from collections.abc import Callable

from ragtune.index.graph.store import GraphStore, StoredTriple

#: characters of passage text shown around a triple's span
CONTEXT_CHARS = 60

#: (source file, passage id, chunk) -> that passage's text, when the index can say (None: the graph's snippet)
TextLookup = Callable[[str, str, int], str | None]


def index_text_lookup(index) -> TextLookup:
    """Passage texts from an opened index backend, one source file read once."""
    cache: dict[str, dict[tuple[str, int], str]] = {}

    def lookup(source: str, passage_id: str, chunk: int) -> str | None:
        if source not in cache:
            cache[source] = {(p.id, p.chunk): p.text for p in index.source_passages(source)}
        return cache[source].get((passage_id, chunk))

    return lookup


def snippet(text: str, triple: StoredTriple) -> str:
    """The passage text around the triple's mentions (its start when neither was found verbatim), on one line."""
    span = triple.span
    if span is None:
        shown = text[:2 * CONTEXT_CHARS] + ("…" if len(text) > 2 * CONTEXT_CHARS else "")
    else:
        start, end = max(0, span[0] - CONTEXT_CHARS), min(len(text), span[1] + CONTEXT_CHARS)
        shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    return " ".join(shown.split())


def neighbourhood(graph: GraphStore, entity: str, hops: int = 1, max_edges: int = 200,
                  texts: TextLookup | None = None) -> dict:
    """`entity` (a name; a one-line error with close matches when the graph has none such) and everything within
    `hops` triples: {"entity", "version", "nodes": [{id, label, aliases, type, hops}], "edges": [{source, target,
    predicate, subject, object, passage_id, chunk, title, span, snippet}], "truncated"}."""
    center = graph.resolve(entity)
    keys, triples = graph.neighbourhood(center, hops)
    truncated = len(triples) > max_edges
    triples = triples[:max_edges]
    names, types = graph.entity_names(), graph.entity_types()
    shown = {center} | {t.subject_key for t in triples} | {t.object_key for t in triples}
    distance = _distances(center, triples)
    nodes = [{"id": key, "label": names.get(key, [key])[0], "aliases": names.get(key, []), "type": types.get(key, ""),
              "hops": distance.get(key, hops)} for key in sorted(shown, key=lambda k: (distance.get(k, hops), k))]
    passages: dict[tuple[str, int], tuple[str, str]] = {}
    edges = []
    for t in triples:
        where = (t.passage_id, t.chunk)
        if where not in passages:
            record = graph.passage(t.passage_id, t.chunk)
            text = texts(record.source, t.passage_id, t.chunk) if texts is not None and record else None
            passages[where] = (text if text is not None else (record.snippet if record else ""), t.title)
        text, title = passages[where]
        edges.append({"source": t.subject_key, "target": t.object_key, "predicate": t.predicate,
                      "subject": t.subject, "object": t.object, "passage_id": t.passage_id, "chunk": t.chunk,
                      "title": title, "span": t.span, "snippet": snippet(text, t)})
    return {"entity": center, "label": names[center][0], "version": graph.version(), "hops": hops, "nodes": nodes,
            "edges": edges, "truncated": truncated, "counts": graph.counts()}


def overview(graph: GraphStore, n: int = 30) -> dict:
    """No entity asked: the graph's size and its `n` most connected entities as nodes (no edges)."""
    names, types = graph.entity_names(), graph.entity_types()
    nodes = [{"id": key, "label": names[key][0], "aliases": names[key], "type": types.get(key, ""), "hops": 0,
              "triples": count} for key, count in graph.top_entities(n)]
    return {"entity": None, "label": None, "version": graph.version(), "hops": 0, "nodes": nodes, "edges": [],
            "truncated": False, "counts": graph.counts()}


def _distances(center: str, triples: list[StoredTriple]) -> dict[str, int]:
    """Hops from `center` to each entity over the shown triples (either direction)."""
    links: dict[str, set[str]] = {}
    for t in triples:
        links.setdefault(t.subject_key, set()).add(t.object_key)
        links.setdefault(t.object_key, set()).add(t.subject_key)
    distance, frontier = {center: 0}, [center]
    while frontier:
        nxt = []
        for key in frontier:
            for other in links.get(key, ()):
                if other not in distance:
                    distance[other] = distance[key] + 1
                    nxt.append(other)
        frontier = nxt
    return distance


def format_lines(view: dict) -> list[str]:
    """`graph show` as text: one line per triple, then its source passage and the text around it."""
    others = [n["label"] for n in view["nodes"] if n["id"] != view["entity"]]
    lines = [f"{view['label']} ({_count(len(view['edges']), 'triple')}, {_count(len(others), 'neighbour')} within "
             f"{_count(view['hops'], 'hop')}{'; more not shown' if view['truncated'] else ''})"]
    for e in view["edges"]:
        title = f" — {e['title']}" if e["title"] else ""
        lines.append(f"  {e['subject']} —[{e['predicate']}]→ {e['object']}")
        lines.append(f"      [{e['passage_id']}#{e['chunk']}{title}] {e['snippet']}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
