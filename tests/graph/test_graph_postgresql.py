"""The graph commands and graph retrieval over a `postgresql://` index, its graph written through the store (no
generator: extraction is the same code on every backend), run as a user runs them (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

from ragtune.ask.graph_retrieval import build_graph as entity_graph
from ragtune.config import Config
from ragtune.graph.build import build_graph, extraction_for
from ragtune.graph.triples import Triple
from ragtune.index.backends import open_index, open_or_create_index, write_lock
from ragtune.index.graph.store import GraphPassage, GraphStore
from ragtune.index.passage import Passage
from ragtune.index.tokenize import tokenize

PASSAGES = [Passage("curie", 0, "Curie", "Marie Curie was born in Warsaw. Warsaw is the capital of Poland.",
                    "/data/curie.txt"),
            Passage("eiffel", 0, "Eiffel", "The Eiffel Tower is located in Paris.", "/data/eiffel.txt")]
TRIPLES = {"curie": [Triple("Marie Curie", "born in", "Warsaw", "person", "city"),
                     Triple("Warsaw", "capital of", "Poland")],
           "eiffel": [Triple("Eiffel Tower", "located in", "Paris")]}


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def pg_index(postgres_url) -> str:
    """A PostgreSQL index of PASSAGES (random vectors: nothing here embeds), without a graph yet."""
    vectors = np.random.default_rng(0).normal(size=(len(PASSAGES), 8)).astype(np.float32)
    with write_lock(postgres_url):
        index = open_or_create_index(postgres_url, Config(), "random", 8)
        index.replace(set(), {p.source: {} for p in PASSAGES}, PASSAGES, vectors,
                      [tokenize(p.embedding_text) for p in PASSAGES])
        index.commit()
        index.close()
    return postgres_url


def _write_graph(url: str) -> None:
    GraphStore.write(url, [], [(GraphPassage.of(p), TRIPLES[p.id], p.text) for p in PASSAGES], {"generator": "test"})


def test_graph_show_and_export_on_a_postgresql_index(pg_index, tmp_path):
    result = ragtune("graph", "show", "Warsaw", "--index", pg_index)
    assert result.returncode == 1 and "no graph yet; run `ragtune graph build --index" in result.stderr
    assert "Traceback" not in result.stderr
    _write_graph(pg_index)

    result = ragtune("graph", "show", "warsaw", "--index", pg_index, "--json", "--hops", "2")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["entity"] == "warsaw" and {n["id"] for n in view["nodes"]} == {"warsaw", "marie curie", "poland"}
    assert view["counts"] == {"passages": 2, "triples": 3, "entities": 5}
    born, = [e for e in view["edges"] if e["predicate"] == "born in"]
    assert born["passage_id"] == "curie" and "Marie Curie was born in Warsaw" in born["snippet"]  # the index's text

    result = ragtune("graph", "show", "Warsw", "--index", pg_index)
    assert result.returncode == 1 and "close matches: Warsaw" in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and pg_index in result.stderr

    result = ragtune("graph", "export", "--index", pg_index, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["subject"], r["predicate"], r["object"], r["passage_id"]) for r in rows] == [
        ("Marie Curie", "born in", "Warsaw", "curie"), ("Warsaw", "capital of", "Poland", "curie"),
        ("Eiffel Tower", "located in", "Paris", "eiffel")]
    assert PASSAGES[0].text[slice(*rows[0]["span"])] == "Marie Curie was born in Warsaw"

    out = tmp_path / "kg.graphml"
    result = ragtune("graph", "export", "--index", pg_index, "--format", "graphml", "--out", out)
    assert result.returncode == 0 and "exported 3 triples" in result.stdout
    graph = nx.read_graphml(out)
    assert graph.number_of_edges() == 3 and graph.nodes["marie curie"]["type"] == "person"

    # the index itself is untouched by the graph tables beside it
    assert [p.id for p in open_index(pg_index).passages] == ["curie", "eiffel"]


def test_graph_retrieval_reads_a_postgresql_graph(pg_index):
    _write_graph(pg_index)
    index = open_index(pg_index)
    with GraphStore.open(pg_index) as graph:
        entities = entity_graph(index, graph, title_links=False)
    assert set(entities.entities) == {"marie curie", "warsaw", "poland", "eiffel tower", "paris"}
    assert entities.passage_ids == ["curie", "eiffel"]
    walk = entities.walk.toarray()
    warsaw, eiffel = entities.entities.index("warsaw"), entities.passage_node("eiffel")
    assert walk[entities.passage_node("curie"), warsaw] > 0 and walk[eiffel, warsaw] == 0


def test_graph_build_updates_a_postgresql_graph_when_nothing_needs_the_generator(pg_index, tmp_path):
    """`graph build` end to end (the graph lock, the index diff, the write) where nothing is to be extracted: a
    graph recorded with a build's settings is up to date, and a source deleted from the index leaves it."""
    config = Config.load(cache_dir=str(tmp_path / "cache"))
    settings = extraction_for(config, None, None, None).settings()
    GraphStore.write(pg_index, [], [(GraphPassage.of(p), TRIPLES[p.id], p.text) for p in PASSAGES], settings)
    (tmp_path / "cache.yaml").write_text(f"cache_dir: {tmp_path / 'cache'}\n")
    result = ragtune("graph", "build", "--index", pg_index, "--config", tmp_path / "cache.yaml")
    assert result.returncode == 0, result.stderr
    assert "graph: 2 passages, 3 triples, 5 entities (extracted 0, 0 generated; removed 0; unchanged 2)" in (
        result.stdout)
    with write_lock(pg_index):
        index = open_index(pg_index)
        index.replace({"/data/eiffel.txt"}, {}, [], np.zeros((0, 8), np.float32), [])
        index.commit()
        index.close()
    report = build_graph(pg_index, config, progress=False, as_recorded=True)  # what `read` runs
    assert (report.passages, report.triples, report.removed, report.generated) == (1, 2, 1, 0)
    with GraphStore.open(pg_index) as graph:
        assert set(graph.entity_names()) == {"marie curie", "warsaw", "poland"}


def test_graph_build_on_an_unreachable_server_is_one_line():
    result = ragtune("graph", "build", "--index", "postgresql://localhost:1/db")
    assert result.returncode == 1 and "cannot connect" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
