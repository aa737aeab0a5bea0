"""Exports: JSON lines and GraphML hold every triple with its provenance, and read back as the same graph."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from ragtune.errors import RagtuneError
from ragtune.graph.export import export_graph, export_text
from ragtune.graph.show import neighbourhood
from ragtune.graph.triples import Triple
from ragtune.index.graph.store import GraphPassage, GraphStore
from ragtune.index.passage import Passage

TEXT = "Marie Curie was born in Warsaw. Warsaw is the capital of Poland."


@pytest.fixture
def graph(tmp_path):
    passage = Passage("curie", 0, "Curie", TEXT, "/data/curie.txt")
    other = Passage("pl", 0, "Poland", "「波兰」的首都是华沙。", "/data/pl.txt")
    GraphStore.write(tmp_path, [], [
        (GraphPassage.of(passage), [Triple("Marie Curie", "born in", "Warsaw", "person", "city"),
                                    Triple("Warsaw", "capital of", "Poland")], TEXT),
        (GraphPassage.of(other), [Triple("波兰", "首都", "华沙"), Triple("Poland", "首都", "华沙")], other.text),
    ], {})
    with GraphStore.open(tmp_path) as store:
        yield store


def test_jsonl_has_one_triple_a_line_with_provenance(graph, tmp_path):
    out = tmp_path / "graph.jsonl"
    assert export_graph(graph, "jsonl", out) == 4
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["subject"], r["predicate"], r["object"]) for r in rows] == [
        ("Marie Curie", "born in", "Warsaw"), ("Warsaw", "capital of", "Poland"), ("波兰", "首都", "华沙"),
        ("Poland", "首都", "华沙")]
    first = rows[0]
    assert (first["passage_id"], first["subject_key"], first["subject_type"]) == ("curie", "marie curie", "person")
    assert TEXT[slice(*first["span"])] == "Marie Curie was born in Warsaw"


def test_graphml_reads_back_as_the_same_graph(graph, tmp_path):
    out = tmp_path / "graph.graphml"
    export_graph(graph, "graphml", out)
    back = nx.read_graphml(out)
    assert set(back.nodes) == {"marie curie", "warsaw", "poland", "波兰", "华沙"}
    assert back.number_of_edges() == 4
    assert back.nodes["marie curie"]["type"] == "person" and back.nodes["warsaw"]["label"] == "Warsaw"
    edge = next(d for _, _, d in back.edges(data=True) if d["predicate"] == "born in")
    assert (edge["passage_id"], edge["span"]) == ("curie", "0-30")


def test_unknown_format_is_refused(graph):
    with pytest.raises(RagtuneError, match="--format 'csv': use one of jsonl, graphml"):
        export_text(graph, "csv")


def test_neighbourhood_view_has_nodes_edges_and_evidence(graph):
    view = neighbourhood(graph, "warsaw", hops=1)
    assert view["label"] == "Warsaw" and {n["id"] for n in view["nodes"]} == {"warsaw", "marie curie", "poland"}
    assert {n["id"]: n["hops"] for n in view["nodes"]}["poland"] == 1
    born = next(e for e in view["edges"] if e["predicate"] == "born in")
    assert born["passage_id"] == "curie" and "Marie Curie was born in Warsaw" in born["snippet"]
    two = neighbourhood(graph, "Marie Curie", hops=2)
    assert {n["id"]: n["hops"] for n in two["nodes"]} == {"marie curie": 0, "warsaw": 1, "poland": 2}
    capped = neighbourhood(graph, "华沙", hops=1, max_edges=1)
    assert capped["truncated"] and len(capped["edges"]) == 1
