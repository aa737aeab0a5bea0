"""What only the PostgreSQL backend has: URLs, a real server's errors, exact BM25 without compaction, the HNSW
graph, a writer killed mid-transaction, and the CLI and pipeline over a `postgresql://` index."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.eval.runner import evaluate
from ragtune.index.backends import backend_class, open_index, open_or_create_index, write_lock
from ragtune.index.backends.postgresql import PostgresIndex, split_url
from ragtune.index.bm25 import BM25Index
from ragtune.index.passage import Passage
from ragtune.index.tokenize import tokenize
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SQUAD_DEV = SHARED / "expmrc-squad" / "expmrc-squad-dev.json"
SCIFACT = SHARED / "scifact" / "corpus.jsonl"


def test_a_url_picks_the_backend_and_names_its_schema():
    assert backend_class("postgresql://u@h:5/db") is PostgresIndex
    assert backend_class("postgres://u@h:5/db") is PostgresIndex
    assert split_url("postgresql://u:pw@h:5/db?schema=docs&sslmode=disable") == (
        "postgresql://u:pw@h:5/db?sslmode=disable", "docs")
    assert split_url("postgresql://u@h/db")[1] == "ragtune"
    with pytest.raises(RagtuneError, match="schema 'x;drop'"):
        split_url("postgresql://u@h/db?schema=x;drop")


def test_no_server_is_a_one_line_error_without_the_password():
    with pytest.raises(RagtuneError) as caught:
        open_index("postgresql://me:secret@127.0.0.1:9/db?connect_timeout=2")
    message = str(caught.value)
    assert "cannot connect" in message and "secret" not in message and "\n" not in message


def test_a_schema_holding_other_tables_is_not_taken(postgres_url):
    conninfo, schema = split_url(postgres_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.mine (x int)")
    with pytest.raises(RagtuneError, match="holds tables but no ragtune index"), write_lock(postgres_url):
        open_or_create_index(postgres_url, Config(), "use-multilingual", 8)


def _scifact(n: int) -> list[Passage]:
    rows = [json.loads(line) for line in SCIFACT.read_text(encoding="utf-8").splitlines()[:n]]
    return [Passage(r["_id"], 0, r["title"], r["text"], f"scifact/{i % 10}") for i, r in enumerate(rows)]


def test_bm25_is_exact_after_every_change_without_compaction(postgres_url):
    passages = _scifact(300)
    tokens = [tokenize(p.embedding_text) for p in passages]
    vectors = np.random.default_rng(0).normal(size=(len(passages), 8)).astype(np.float32)
    config = Config()
    with write_lock(postgres_url):
        index = open_or_create_index(postgres_url, config, "random", 8)
        index.replace(set(), {f"scifact/{i}": {} for i in range(10)}, passages, vectors, tokens)
        index.commit()
        index.replace({"scifact/3", "scifact/7"}, {}, [], np.zeros((0, 8)), [])
        index.commit()
    kept = [i for i, p in enumerate(passages) if p.source not in ("scifact/3", "scifact/7")]
    reference = BM25Index()
    reference.build([tokens[i] for i in kept])
    index = open_index(postgres_url)
    for query in ("cancer cell mutation", "protein expression in mice", "vitamin D deficiency risk"):
        expected = reference.scores(tokenize(query))
        rows, scores = index.lexical_top(tokenize(query), 20)
        assert rows.tolist() == np.lexsort((np.arange(len(expected)), -expected))[:20].tolist()
        np.testing.assert_allclose(scores, expected[rows], rtol=1e-5)


def test_hnsw_graph_finds_the_exact_neighbours(postgres_url, embedder):
    passages = [Passage(p.id, 0, "", p.title, p.source) for p in _scifact(800)]  # titles: quick to embed
    vectors = embedder.encode_passages([p.text for p in passages], progress=False)
    with write_lock(postgres_url):
        index = open_or_create_index(postgres_url, Config(), embedder.name, embedder.dim)
        index.replace(set(), {}, passages, vectors, [[] for _ in passages])
        index.commit()
    queries = [q.text for q in load_questions(SHARED / "scifact", "train")[:40]]
    query_vectors = embedder.encode_queries(queries)
    graph = open_index(postgres_url, Config.load(**{"index.exact_below": 1}))
    exact = open_index(postgres_url)  # 800 passages: below index.exact_below, a full scan
    hits = 0
    for vector in query_vectors:
        expected = np.argsort(-(vectors @ vector), kind="stable")[:10]
        assert exact.dense_top(vector[None, :], 10)[1][0].tolist() == expected.tolist()
        hits += len(set(graph.dense_top(vector[None, :], 10)[1][0].tolist()) & set(expected.tolist()))
    assert hits / (10 * len(queries)) >= 0.95


def test_a_writer_killed_mid_transaction_leaves_the_last_commit(postgres_url):
    passages = _scifact(40)
    with write_lock(postgres_url):
        index = open_or_create_index(postgres_url, Config(), "random", 4)
        index.replace(set(), {"scifact/0": {}}, passages[:20], np.ones((20, 4), np.float32),
                      [tokenize(p.text) for p in passages[:20]])
        index.commit()
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from ragtune.config import Config
        from ragtune.index.backends import open_index, write_lock
        from ragtune.index.passage import Passage
        url = {postgres_url!r}
        with write_lock(url):
            index = open_index(url, Config())
            index.replace({{"scifact/0"}}, {{"new": {{}}}}, [Passage("x", 0, "", "new text", "new")],
                          np.ones((1, 4), np.float32), [["new", "text"]])
            print("written", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == -9 and "written" in done.stdout, done.stderr
    index = open_index(postgres_url)
    assert [p.id for p in index.passages] == [p.id for p in passages[:20]] and set(index.sources) == {"scifact/0"}
    with write_lock(postgres_url):  # the dead writer's lock went with its connection
        pass


def test_pipeline_and_cli_over_a_url_answer_as_the_folder_does(postgres_url, tmp_path, embedder):
    data = json.loads(SQUAD_DEV.read_text(encoding="utf-8"))
    data["data"] = data["data"][:2]
    squad = tmp_path / "squad_slice.json"
    squad.write_text(json.dumps(data), encoding="utf-8")
    config = Config.load(**{"retrieval.reranker": "none"})
    folder = Pipeline(tmp_path / "index", config, embedder=embedder, progress=False)
    database = Pipeline(postgres_url, config, embedder=embedder, progress=False)
    assert folder.read([squad]).passages_total == database.read([squad]).passages_total > 0
    questions = load_questions(squad)[:60]
    ours, theirs = (evaluate(p, questions, retrieval_only=True, progress=False).metrics["retrieval"]
                    for p in (folder, database))
    # the embedded backend's tantivy keeps passage lengths in one byte, so its BM25 (and a near tie after fusion)
    # may differ from the exact scores here: at most two of the questions may move
    assert all(abs(ours[k] - theirs[k]) <= 2 / len(questions) for k in ("recall@1", "recall@5", "ndcg@10")), (
        ours, theirs)
    same = sum([r.id for r in folder.retrieve(q.text)] == [r.id for r in database.retrieve(q.text)]
               for q in questions[:20])
    assert same >= 17
    # the CLI takes the URL as --index on every command: here a delete, which needs no model
    done = subprocess.run([sys.executable, "-m", "ragtune.cli", "read", str(squad), "--delete", "--index",
                           postgres_url], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(open_index(postgres_url)) == 0
