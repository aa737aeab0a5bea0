"""GraphStore on both of its backends (an index folder's SQLite file, a PostgreSQL index's schema): a round trip,
alias merging, provenance spans, atomic updates, readers keeping their state, one writer at a time."""

from __future__ import annotations

import sqlite3
import threading

import psycopg
import pytest

from ragtune.errors import RagtuneError
from ragtune.graph.triples import Triple
from ragtune.index.backends.postgresql import split_url
from ragtune.index.graph.store import GRAPH_FILE, GraphPassage, GraphStore, PostgresGraph, SqliteGraph, graph_lock
from ragtune.index.passage import Passage

TEXT_A = "刘慈欣创作了《三体》。《三体》获得了雨果奖。"
TEXT_B = "Marie Curie was born in Warsaw. Warsaw is the capital of Poland."
CHANGED_B = Passage("doc-b", 0, "Curie", "Marie Curie studied in Paris.", "/data/b.txt")


def _added(passage: Passage, triples: list[Triple]):
    return GraphPassage.of(passage), triples, passage.text


@pytest.fixture(params=["folder", "postgresql"])
def location(request, tmp_path):
    """Where an index's graph lives: an index folder, or a PostgreSQL index URL (a schema of its own)."""
    return tmp_path if request.param == "folder" else request.getfixturevalue("postgres_url")


@pytest.fixture
def graph_at(location):
    return _write_sample(location)


def _write_sample(location):
    a = Passage("doc-a", 0, "三体", TEXT_A, "/data/a.txt")
    b = Passage("doc-b", 0, "Curie", TEXT_B, "/data/b.txt")
    GraphStore.write(location, [], [
        _added(a, [Triple("刘慈欣", "作者", "《三体》"), Triple("三体", "获奖", "雨果奖"),
                   Triple("三体", "获奖", "雨果奖")]),
        _added(b, [Triple("Marie Curie", "born in", "Warsaw", "person", "place"),
                   Triple("(Marie Curie)", "born in", "“Warsaw”"),
                   Triple("warsaw", "capital of", "Poland", "place", "country")]),
    ], {"generator": "test"})
    return location


def test_the_location_picks_the_store_and_no_graph_is_none(location):
    assert GraphStore.open(location) is None and not GraphStore.exists(location)
    expected = SqliteGraph if "://" not in str(location) else PostgresGraph
    GraphStore.write(location, [], [], {})
    with GraphStore.open(location) as graph:
        assert type(graph) is expected and GraphStore.exists(location)
        assert graph.counts() == {"passages": 0, "triples": 0, "entities": 0}


def test_an_unknown_scheme_and_an_unreachable_server_are_one_line():
    with pytest.raises(RagtuneError, match="no graph store for mysql://"):
        GraphStore.open("mysql://localhost/db")
    with pytest.raises(RagtuneError) as caught:
        GraphStore.open("postgresql://me:secret@127.0.0.1:9/db?connect_timeout=2")
    message = str(caught.value)
    assert "cannot connect" in message and "secret" not in message and "\n" not in message


def test_round_trip_merges_aliases_and_keeps_provenance(graph_at):
    with GraphStore.open(graph_at) as graph:
        names = graph.entity_names()
        # 《三体》 and 三体 are one entity; Warsaw and warsaw too, both surface forms kept
        assert sorted(names["三体"]) == ["《三体》", "三体"]
        assert sorted(names["warsaw"]) == ["Warsaw", "warsaw", "“Warsaw”"]  # quoted and bracketed forms merge
        assert names["marie curie"] == ["Marie Curie", "(Marie Curie)"]  # at equal counts the plain form first
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
        assert graph.top_entities(3) == [("warsaw", 3), ("marie curie", 2), ("三体", 2)]
        assert graph.passage("doc-b").title == "Curie" and graph.passage("doc-b", 1) is None
        assert graph.to_networkx().number_of_edges() == 5


def test_both_stores_answer_alike(tmp_path, postgres_url):
    """The same writes give the same answers, in the same order, from SQLite and PostgreSQL."""
    # names whose order differs between byte order and a language's collation (case, spaces, dashes, accents)
    names = ["ab", "a-b", "a b", "Zed", "zed2", "三体", "Éclair", "ada10", "ada9", "b"]
    answers = []
    for location in (tmp_path, postgres_url):
        added = []
        for i, name in enumerate(names):
            other = names[(i + 1) % len(names)]
            passage = Passage(f"doc-{i}", i % 2, "t", f"{name} met {other}.", f"/d/{i}.txt")
            added.append(_added(passage, [Triple(name, "met", other)]))
        GraphStore.write(location, [], added, {})
        with GraphStore.open(location) as graph:
            answers.append((list(graph.entity_names().items()), list(graph.entity_passages()), graph.triples(),
                            graph.top_entities(5), graph.neighbourhood("Zed", hops=2), graph.counts()))
    assert answers[0] == answers[1]


def test_neighbourhood_hops_and_unknown_entity(graph_at):
    with GraphStore.open(graph_at) as graph:
        keys, triples = graph.neighbourhood("Marie Curie", hops=1)
        # the bracketed/quoted restatement is the same fact between the same entities: shown once
        assert keys == {"marie curie", "warsaw"} and len(triples) == 1
        keys, triples = graph.neighbourhood("Marie Curie", hops=2)
        assert keys == {"marie curie", "warsaw", "poland"} and len(triples) == 2
        with pytest.raises(RagtuneError, match="close matches: Marie Curie") as caught:
            graph.resolve("Marie Cury")
        assert str(caught.value).startswith(str(graph_at))  # names the index


def test_update_replaces_a_passage_and_readers_keep_their_state(graph_at):
    old = GraphStore.open(graph_at)
    version = old.version()
    key_a = next(k for k, p in old.passages().items() if p.passage_id == "doc-a")
    new_version = GraphStore.write(graph_at, [key_a], [_added(CHANGED_B, [Triple("Marie Curie", "studied in",
                                                                                   "Paris")])],
                                   {"generator": "test"}, expected=version)
    assert new_version != version
    assert old.version() == version and old.counts()["triples"] == 5  # the state it opened
    assert {t.object for t in old.triples("Marie Curie")} == {"Warsaw", "“Warsaw”"}
    old.close()
    with GraphStore.open(graph_at) as graph:
        assert graph.version() == new_version
        assert graph.counts() == {"passages": 1, "triples": 1, "entities": 2}
        assert set(graph.entity_names()) == {"marie curie", "paris"}
        assert graph.passage("doc-b").snippet == CHANGED_B.text
    with pytest.raises(RagtuneError, match="changed while"):
        GraphStore.write(graph_at, [], [], {}, expected=version)


def test_a_write_computed_against_an_old_version_waits_for_the_running_one_then_fails(graph_at):
    with GraphStore.open(graph_at) as graph:
        version = graph.version()
    inside, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def slow_update():  # the first write, held open between its statements
        yield _added(CHANGED_B, [Triple("Marie Curie", "studied in", "Paris")])
        inside.set()
        release.wait(30)

    def write(name, added):
        try:
            outcome[name] = GraphStore.write(graph_at, [], added, {}, expected=version)
        except RagtuneError as exc:
            outcome[name] = exc

    first = threading.Thread(target=write, args=("first", slow_update()))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=write, args=("second", []))
    second.start()
    second.join(1.0)
    assert second.is_alive()  # the second write waits for the first's transaction
    release.set()
    first.join(30)
    second.join(30)
    assert isinstance(outcome["first"], str) and "changed while" in str(outcome["second"])


def test_a_failed_update_leaves_the_last_good_graph(graph_at):
    with GraphStore.open(graph_at) as graph:
        before = (graph.version(), graph.counts())

    def interrupted():  # the first passage is written, then the update is killed before its commit
        yield _added(CHANGED_B, [Triple("Marie Curie", "studied in", "Paris")])
        raise KeyboardInterrupt

    with GraphStore.open(graph_at) as graph:
        everything = list(graph.passages())
    with pytest.raises(KeyboardInterrupt):
        GraphStore.write(graph_at, everything, interrupted(), {})
    with GraphStore.open(graph_at) as graph:
        assert (graph.version(), graph.counts()) == before
    if "://" not in str(graph_at):
        assert sqlite3.connect(graph_at / GRAPH_FILE).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_one_graph_updater_at_a_time(location):
    order: list[str] = []

    def second():
        with graph_lock(location):
            order.append("second")

    with graph_lock(location):
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(1.0)
        assert waiting.is_alive()  # blocked on the first holder
        order.append("first")
    waiting.join(30)
    assert order == ["first", "second"]
    with graph_lock(location):  # released: taken again at once
        pass


def test_postgres_graph_tables_are_namespaced_and_a_bad_row_is_one_line(postgres_url):
    graph_at = _write_sample(postgres_url)
    conninfo, schema = split_url(graph_at)
    with psycopg.connect(conninfo) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
    assert tables == {"graph_meta", "graph_passages", "graph_triples"}
    with GraphStore.open(graph_at) as graph:
        before = (graph.version(), graph.counts())
    broken = Passage("doc-c", 0, "nul", "a\x00b", "/data/c.txt")  # PostgreSQL text holds no NUL
    with pytest.raises(RagtuneError, match="could not write the graph") as caught:
        GraphStore.write(graph_at, [], [_added(broken, [])], {})
    assert str(caught.value).startswith(graph_at) and "\n" not in str(caught.value)
    with GraphStore.open(graph_at) as graph:
        assert (graph.version(), graph.counts()) == before
