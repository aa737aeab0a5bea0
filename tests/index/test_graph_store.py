"""GraphStore: a round trip through the SQLite file, alias merging, provenance spans, atomic updates."""

from __future__ import annotations

import sqlite3

import pytest

from ragtune.errors import RagtuneError
from ragtune.graph.triples import Triple
from ragtune.index.graph.store import GRAPH_FILE, GraphPassage, GraphStore
from ragtune.index.passage import Passage

TEXT_A = "刘慈欣创作了《三体》。《三体》获得了雨果奖。"
TEXT_B = "Marie Curie was born in Warsaw. Warsaw is the capital of Poland."


def _added(passage: Passage, triples: list[Triple]):
    return GraphPassage.of(passage), triples, passage.text


@pytest.fixture
def graph_dir(tmp_path):
    a = Passage("doc-a", 0, "三体", TEXT_A, "/data/a.txt")
    b = Passage("doc-b", 0, "Curie", TEXT_B, "/data/b.txt")
    GraphStore.write(tmp_path, [], [
        _added(a, [Triple("刘慈欣", "作者", "《三体》"), Triple("三体", "获奖", "雨果奖"),
                   Triple("三体", "获奖", "雨果奖")]),
        _added(b, [Triple("Marie Curie", "born in", "Warsaw", "person", "place"),
                   Triple("(Marie Curie)", "born in", "“Warsaw”"),
                   Triple("warsaw", "capital of", "Poland", "place", "country")]),
    ], {"generator": "test"})
    return tmp_path


def test_no_graph_is_none_and_postgres_is_refused(tmp_path):
    assert GraphStore.open(tmp_path) is None
    with pytest.raises(RagtuneError, match="graph: not supported for postgresql indexes yet"):
        GraphStore.open("postgresql://localhost/db")


def test_round_trip_merges_aliases_and_keeps_provenance(graph_dir):
    with GraphStore.open(graph_dir) as graph:
        names = graph.entity_names()
        # 《三体》 and 三体 are one entity; Warsaw and warsaw too, both surface forms kept
        assert sorted(names["三体"]) == ["《三体》", "三体"]
        assert sorted(names["warsaw"]) == ["Warsaw", "warsaw", "“Warsaw”"]  # quoted and bracketed forms merge
        assert sorted(names["marie curie"]) == ["(Marie Curie)", "Marie Curie"]
        assert graph.entity_passages()["三体"] == {"doc-a"}
        assert graph.entity_passages()["warsaw"] == {"doc-b"}
        assert graph.counts() == {"passages": 2, "triples": 5, "entities": 6}  # the repeated triple kept once
        award, = [t for t in graph.triples("《三体》") if t.predicate == "获奖"]
        assert (award.subject_key, award.object_key, award.passage_id) == ("三体", "雨果奖", "doc-a")
        assert TEXT_A[slice(*award.subject_span)] == "三体" and TEXT_A[slice(*award.object_span)] == "雨果奖"
        lower, = [t for t in graph.triples("Poland")]
        assert TEXT_B[slice(*lower.subject_span)] == "Warsaw"  # found ignoring case
        assert graph.entity_types()["poland"] == "country"
        assert graph.settings == {"generator": "test"}


def test_neighbourhood_hops_and_unknown_entity(graph_dir):
    with GraphStore.open(graph_dir) as graph:
        keys, triples = graph.neighbourhood("Marie Curie", hops=1)
        # the bracketed/quoted restatement is the same fact between the same entities: shown once
        assert keys == {"marie curie", "warsaw"} and len(triples) == 1
        keys, triples = graph.neighbourhood("Marie Curie", hops=2)
        assert keys == {"marie curie", "warsaw", "poland"} and len(triples) == 2
        with pytest.raises(RagtuneError, match="close matches: Marie Curie"):
            graph.resolve("Marie Cury")


def test_update_replaces_a_passage_and_readers_keep_their_state(graph_dir):
    old = GraphStore.open(graph_dir)
    version = old.version()
    changed = Passage("doc-b", 0, "Curie", "Marie Curie studied in Paris.", "/data/b.txt")
    key_a = next(k for k, p in old.passages().items() if p.passage_id == "doc-a")
    new_version = GraphStore.write(graph_dir, [key_a], [_added(changed, [Triple("Marie Curie", "studied in",
                                                                                 "Paris")])],
                                   {"generator": "test"}, expected=version)
    assert new_version != version
    assert old.version() == version and old.counts()["triples"] == 5  # the state it opened
    old.close()
    with GraphStore.open(graph_dir) as graph:
        assert graph.version() == new_version
        assert graph.counts() == {"passages": 1, "triples": 1, "entities": 2}
        assert set(graph.entity_names()) == {"marie curie", "paris"}
    with pytest.raises(RagtuneError, match="changed while"):
        GraphStore.write(graph_dir, [], [], {}, expected=version)


def test_a_failed_update_leaves_the_last_good_graph(graph_dir):
    with GraphStore.open(graph_dir) as graph:
        before = (graph.version(), graph.counts())
    changed = Passage("doc-b", 0, "Curie", "Marie Curie studied in Paris.", "/data/b.txt")

    def interrupted():  # the first passage is written, then the update is killed before its commit
        yield _added(changed, [Triple("Marie Curie", "studied in", "Paris")])
        raise KeyboardInterrupt

    with GraphStore.open(graph_dir) as graph:
        everything = list(graph.passages())
    with pytest.raises(KeyboardInterrupt):
        GraphStore.write(graph_dir, everything, interrupted(), {})
    with GraphStore.open(graph_dir) as graph:
        assert (graph.version(), graph.counts()) == before
    assert sqlite3.connect(graph_dir / GRAPH_FILE).execute("PRAGMA integrity_check").fetchone() == ("ok",)
