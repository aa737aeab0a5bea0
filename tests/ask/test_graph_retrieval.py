"""Graph retrieval finds the bridge passage of a two-hop question that hybrid retrieval misses: real HotpotQA dev
paragraphs (two questions' 20, pooled), the real embedder, and a real graph (index/graph/store.py's GraphStore,
written through its own API) or the passages' title links alone."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from datafiles import HOTPOTQA_DEV

from ragtune.ask.graph_retrieval import NameMatcher, personalized_pagerank, title_forms
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.eval.runner import evaluate
from ragtune.graph.build import extraction_for
from ragtune.graph.triples import Triple
from ragtune.index.graph.store import GraphPassage, GraphStore
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

#: line numbers (0-based) of two bridge questions: Nicolae Titulescu -> League of Nations, and
#: "I'll Keep the Lovelight Burning" -> Patti Page; the second paragraph shares no name with the question
BRIDGE_QUESTIONS = (20, 30)
BRIDGES = {"League of Nations", "Patti Page"}
#: triples as their paragraphs state them (the packaged base generator extracts few from these)
TRIPLES = {
    "Nicolae Titulescu": [Triple("Nicolae Titulescu", "President of the General Assembly of", "League of Nations")],
    "League of Nations": [Triple("League of Nations", "founded on", "10 January 1920")],
    "I'll Keep the Lovelight Burning": [Triple("I'll Keep the Lovelight Burning", "popularized by", "Patti Page")],
    "Patti Page": [Triple("Patti Page", "born", "November 8, 1927")],
}
FUSED_ONLY = {"retrieval.reranker": "none"}  # the fused order: the reranker is not what is tested


@pytest.fixture(scope="module")
def bridge_index(tmp_path_factory, embedder):
    folder = tmp_path_factory.mktemp("hotpot")
    lines = HOTPOTQA_DEV.read_text(encoding="utf-8").splitlines()
    data = folder / "two-bridges.jsonl"
    data.write_text("".join(lines[n] + "\n" for n in BRIDGE_QUESTIONS), encoding="utf-8")
    pipeline = Pipeline(folder / "index", Config.load(**FUSED_ONLY), embedder=embedder, progress=False)
    pipeline.read([data])
    return pipeline, load_questions(data)


def pipeline_with(bridge_index, **overrides) -> Pipeline:
    hybrid, _ = bridge_index
    return Pipeline(hybrid.index_dir, Config.load(**FUSED_ONLY, **overrides), embedder=hybrid.embedder,
                    progress=False)


def test_title_links_find_the_bridges_hybrid_misses(bridge_index):
    hybrid, questions = bridge_index
    assert all(q.all_required and len(q.qrels) == 2 for q in questions)
    for question in questions:
        assert not BRIDGES & {r.id for r in hybrid.retrieve(question.text, 5)}  # hybrid alone: no bridge in the top 5
    graph = pipeline_with(bridge_index, **{"retrieval.graph": True})
    with pytest.warns(UserWarning, match="no knowledge graph yet"):
        found = [[r.id for r in graph.retrieve(q.text, 2)] for q in questions]
    assert found == [["Nicolae Titulescu", "League of Nations"], ["I'll Keep the Lovelight Burning", "Patti Page"]]
    # eval counts a question only when both supporting paragraphs are in: 0 of 2 at k=5 before, 2 of 2 after
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = evaluate(hybrid, questions, retrieval_only=True, progress=False).metrics["retrieval"]
        after = evaluate(graph, questions, retrieval_only=True, progress=False).metrics["retrieval"]
    assert before["recall@5"] == 0.0 and after["recall@2"] == after["recall@5"] == 1.0


def test_triples_in_the_graph_store_find_the_bridges(bridge_index, tmp_path):
    hybrid, questions = bridge_index
    index = hybrid.index_dir
    no_titles = {"retrieval.graph": True, "retrieval.graph_title_links": False}
    with pytest.raises(RagtuneError, match="ragtune graph build"):
        pipeline_with(bridge_index, **no_titles).retrieve(questions[0].text)
    passages = {p.id: p for p in hybrid.store.passages}
    added = [(GraphPassage.of(passages[pid]), triples, passages[pid].text) for pid, triples in TRIPLES.items()]
    # the settings a build records, so a later `read` would update this graph rather than re-extract it all
    settings = extraction_for(hybrid.config, None, None, None).settings()
    GraphStore.write(index, removed=[], added=added, settings=settings)
    try:
        graph = pipeline_with(bridge_index, **no_titles)
        found = [[r.id for r in graph.retrieve(q.text, 2)] for q in questions]
        assert found == [["Nicolae Titulescu", "League of Nations"], ["I'll Keep the Lovelight Burning", "Patti Page"]]
        # the walk's own ranking, without the hybrid one: no seed passage, the question's entity alone
        alone = graph.retriever
        seeds = alone.seeds(alone.graph(), questions[1].text, [])
        matrix = alone.graph()
        scores = personalized_pagerank(matrix.walk, seeds[:, None], 0.5, 30)[matrix.n_entities:, 0]
        ranked = [matrix.passage_ids[i] for i in np.argsort(-scores)[:2]]
        assert ranked == ["I'll Keep the Lovelight Burning", "Patti Page"]
    finally:
        for leftover in index.glob("graph.sqlite*"):  # the graph and its WAL files: the index as it was
            leftover.unlink()


def test_names_match_whole_and_longest_only():
    matcher = NameMatcher([("Ohio", 0), ("Ohio River", 1), ("Hilo, Hawaii", 2), ("Hilo", 2), ("it", 3)])
    assert matcher.find("Barges on the ohio river, near Hilo.") == {1, 2}  # not "Ohio" inside "Ohio River"
    assert matcher.find("It is in Ohio.") == {0}  # "it" is too short to be matched
    assert title_forms("Straight No Chaser (group)") == ["Straight No Chaser (group)", "Straight No Chaser"]
    assert title_forms("Hilo, Hawaii") == ["Hilo, Hawaii", "Hilo"]


def test_personalized_pagerank_by_hand():
    # a path 0 - 1 - 2, walked from node 0: scores fall with distance and the walk keeps all its mass
    adjacency = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float32))
    walk = adjacency @ sp.diags(1 / np.asarray(adjacency.sum(axis=0)).ravel())
    scores = personalized_pagerank(walk.tocsr(), np.array([[1.0], [0.0], [0.0]], np.float32), 0.5, 200)[:, 0]
    assert scores[0] > scores[1] > scores[2] > 0 and scores.sum() == pytest.approx(1.0, abs=1e-5)
    # the fixed point: s = 0.5 e0 + 0.5 W s
    np.testing.assert_allclose(scores, 0.5 * np.array([1, 0, 0]) + 0.5 * (walk @ scores), atol=1e-6)
    assert json.dumps([round(float(s), 3) for s in scores]) == "[0.583, 0.333, 0.083]"  # 7/12, 1/3, 1/12
