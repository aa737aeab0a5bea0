"""The embedded index (format 2) grows in place: adds append, deletes tombstone, optimize compacts, a crash at any
point leaves the previous state, readers keep the state they opened, and it answers as the snapshot store did."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ragtune.ask.retriever import HybridRetriever
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.backends import open_index
from ragtune.index.backends.embedded import EmbeddedIndex
from ragtune.index.backends.snapshot import IndexStore
from ragtune.index.engines import catalog, dense, lexical
from ragtune.index.passage import Passage
from ragtune.index.tokenize import tokenize

SQUAD_DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "expmrc-squad" / "expmrc-squad-dev.json"

QUERIES = ["When did the Normans conquer England?", "What is the largest city in Poland?",
           "Who designed the steam engine?", "Which river flows through Warsaw?"]


@pytest.fixture(scope="module")
def corpus(embedder):
    """SQuAD dev paragraphs, five per source file, with their real tokens and vectors."""
    data = json.loads(SQUAD_DEV.read_text(encoding="utf-8"))
    passages = []
    for article in data["data"][:12]:
        for paragraph in article["paragraphs"]:
            n = len(passages)
            passages.append(Passage(f"doc{n}", 0, article["title"], paragraph["context"], f"/src/file{n // 5}.txt"))
    passages = passages[:200]
    texts = [p.embedding_text for p in passages]
    vectors = np.asarray(embedder.encode_passages(texts, progress=False), np.float32)
    tokens = [tokenize(t) for t in texts]
    return passages, vectors, tokens, embedder


def _sources(passages):
    return {p.source: {"sha256": p.source, "path": p.source, "documents": 1} for p in passages}


def _build(cls, folder, corpus, rows=slice(None), config=None):
    passages, vectors, tokens, embedder = corpus
    index = cls.create(folder, config or Config(), embedder.name, embedder.dim)
    with index.lock():
        index.replace(set(), _sources(passages[rows]), passages[rows], vectors[rows], tokens[rows])
        index.commit()
    return cls.open(folder)


def _embedded(folder, corpus, rows=slice(None), **settings):
    return _build(EmbeddedIndex, folder, corpus, rows, Config.load(**settings) if settings else None)


def test_answers_as_the_snapshot_store_did(tmp_path, corpus):
    """The same passages match every query; BM25 scores differ by tantivy's one-byte document lengths alone
    (Lucene's encoding: under 4% here), so an order may swap near-ties; dense search is the same exact search."""
    old = _build(IndexStore, tmp_path / "old", corpus)
    new = _build(EmbeddedIndex, tmp_path / "new", corpus)
    assert list(new.passages) == list(old.passages) and new.sources == old.sources
    embedder = corpus[3]
    every = np.arange(len(old))
    for query in QUERIES:
        tokens = tokenize(query)
        want, got = old.lexical_scores(tokens, every), new.lexical_scores(tokens, every)
        np.testing.assert_array_equal(got > 0, want > 0)
        np.testing.assert_allclose(got, want, rtol=0.04)
        rows_old, _ = old.lexical_top(tokens, 10)
        rows_new, scores_new = new.lexical_top(tokens, 10)
        assert len(set(rows_new) & set(rows_old)) >= 0.8 * len(rows_old)
        np.testing.assert_allclose(scores_new, got[rows_new], rtol=1e-6)
        vector = embedder.encode_queries([query])
        np.testing.assert_array_equal(new.dense_top(vector, 10)[1], old.dense_top(vector, 10)[1])
    config = Config.load(**{"retrieval.reranker": "none"}).retrieval
    got = HybridRetriever(new, embedder, config, rerankers={}).retrieve_many(QUERIES, 5)
    want = HybridRetriever(old, embedder, config, rerankers={}).retrieve_many(QUERIES, 5)
    assert [ranked[0].id for ranked in got] == [ranked[0].id for ranked in want]
    assert all(len({r.id for r in a} & {r.id for r in b}) >= 4 for a, b in zip(got, want))


def test_adds_append_and_readers_keep_the_state_they_opened(tmp_path, corpus):
    passages, vectors, tokens, _ = corpus
    folder = tmp_path / "index"
    first = _embedded(folder, corpus, slice(0, 150))
    spec = first._manifest["vectors"]
    vector_file = folder / dense.files(spec["file"])[0]
    catalog_inode = (folder / catalog.CATALOG).stat().st_ino

    writer = EmbeddedIndex.open(folder)
    with writer.lock():
        writer.replace(set(), _sources(passages[150:]), passages[150:], vectors[150:], tokens[150:])
        writer.commit()
    # the same files grew by the new rows alone: nothing was rewritten
    assert vector_file.stat().st_size == 200 * vectors.shape[1] * 4
    assert writer._manifest["lexical"] == first._manifest["lexical"]
    assert (folder / catalog.CATALOG).stat().st_ino == catalog_inode
    # the reader opened before still answers from 150 passages; a new one sees 200, ids unchanged
    assert len(first) == 150 and len(first.vectors()) == 150
    later = EmbeddedIndex.open(folder)
    assert len(later) == 200 and [p.id for p in later.passages][:150] == [p.id for p in first.passages]
    only_new = tokenize(passages[180].text)
    assert all(r < 150 for r in first.lexical_top(only_new, 50)[0])
    assert 180 in later.lexical_top(only_new, 50)[0]


def test_deletes_vanish_at_once_and_optimize_compacts_to_exact_statistics(tmp_path, corpus):
    passages, vectors, tokens, embedder = corpus
    folder = tmp_path / "index"
    index = _embedded(folder, corpus, **{"index.compact_dead_share": 1.0})  # no automatic compaction here
    gone = {p.source for p in passages[:40]}
    with index.lock():
        assert index.replace(gone, {}, [], np.zeros((0, embedder.dim)), []) == 40
        index.commit()
    assert len(index) == 160 and not gone & set(index.sources)
    assert index._manifest["lexical_docs"] == 200 and index._manifest["vectors"]["rows"] == 200  # tombstones
    for query in QUERIES:
        rows, _ = index.lexical_top(tokenize(query), 50)
        assert all(index.passages[r].source not in gone for r in rows)
        _, dense_rows = index.dense_top(embedder.encode_queries([query]), 10)
        assert all(index.passages[r].source not in gone for r in dense_rows[0])

    with index.lock():
        index.optimize()
    assert index._manifest["lexical_docs"] == 160 and index._manifest["vectors"]["rows"] == 160
    fresh = _embedded(tmp_path / "fresh", corpus, slice(40, None))
    for query in QUERIES:
        tokens_q = tokenize(query)
        np.testing.assert_array_equal(index.lexical_top(tokens_q, 20)[0], fresh.lexical_top(tokens_q, 20)[0])
        np.testing.assert_allclose(index.lexical_top(tokens_q, 20)[1], fresh.lexical_top(tokens_q, 20)[1])
    np.testing.assert_array_equal(np.asarray(index.vectors()), vectors[40:])
    left = {p.name for p in folder.iterdir() if p.name.startswith(("lexical-", "vectors-"))}
    assert len([n for n in left if n.startswith("lexical-")]) == 2  # the live one and the one before it


def test_many_deletes_compact_by_themselves(tmp_path, corpus):
    passages, _, _, embedder = corpus
    index = _embedded(tmp_path / "index", corpus)
    with index.lock():
        index.replace({p.source for p in passages[:100]}, {}, [], np.zeros((0, embedder.dim)), [])
        index.commit()
    assert index._manifest["lexical_docs"] == 100 == len(index)


def test_graphs_above_the_exact_size_find_what_exact_search_finds(tmp_path, corpus):
    _, vectors, _, embedder = corpus
    settings = {"index.exact_below": 40, "index.max_vector_segments": 3}
    index = _embedded(tmp_path / "index", corpus, slice(0, 60), **settings)
    assert len(index._manifest["vectors"]["segments"]) == 1  # 60 rows: one graph, nothing left exact
    passages, _, tokens, _ = corpus
    for start in range(60, 200, 45):
        stop = min(start + 45, 200)
        with index.lock():
            index.replace(set(), _sources(passages[start:stop]), passages[start:stop], vectors[start:stop],
                          tokens[start:stop])
            index.commit()
    segments = index._manifest["vectors"]["segments"]
    assert 1 <= len(segments) <= 3 and segments[-1]["end"] <= 200
    queries = embedder.encode_queries(QUERIES + [p.text[:80] for p in passages[::20]])
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    _, found = index.dense_top(queries, 10)
    recall = np.mean([len(set(e) & set(f)) / 10 for e, f in zip(exact, found)])
    assert recall >= 0.98


def test_a_crash_inside_a_commit_leaves_the_previous_state(tmp_path, corpus, monkeypatch):
    passages, vectors, tokens, _ = corpus
    folder = tmp_path / "index"
    _embedded(folder, corpus, slice(0, 100))
    writer = EmbeddedIndex.open(folder)

    def killed(self, gen, manifest):
        raise KeyboardInterrupt  # after the engines took the new rows, before the catalog switched

    monkeypatch.setattr(catalog.Transaction, "publish", killed)
    with writer.lock(), pytest.raises(KeyboardInterrupt):
        writer.replace(set(), _sources(passages[100:150]), passages[100:150], vectors[100:150], tokens[100:150])
        writer.commit()
    monkeypatch.undo()
    after = EmbeddedIndex.open(folder)
    assert len(after) == 100 and after.version(folder) == "gen-1"
    crashed_only = tokenize(passages[120].text)
    assert all(r < 100 for r in after.lexical_top(crashed_only, 100)[0])
    # the next write hands the same keys to other passages: nothing of the crashed batch comes back
    with after.lock():
        after.replace(set(), _sources(passages[150:]), passages[150:], vectors[150:], tokens[150:])
        after.commit()
    rows, _ = after.lexical_top(crashed_only, 200)
    assert not {after.passages[r].id for r in rows} & {p.id for p in passages[100:150]}
    assert len(after) == 150 and after._manifest["lexical_docs"] == 150


def test_a_full_disk_is_one_line_and_keeps_the_previous_state(tmp_path, corpus, monkeypatch):
    passages, vectors, tokens, _ = corpus
    folder = tmp_path / "index"
    _embedded(folder, corpus, slice(0, 100))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(dense, "append", full)
    writer = EmbeddedIndex.open(folder)
    with writer.lock(), pytest.raises(RagtuneError) as caught:
        writer.replace(set(), _sources(passages[100:]), passages[100:], vectors[100:], tokens[100:])
        writer.commit()
    assert "\n" not in str(caught.value) and "No space left" in str(caught.value) and "still live" in str(caught.value)
    assert len(EmbeddedIndex.open(folder)) == 100


def test_a_damaged_index_is_one_line(tmp_path, corpus):
    folder = tmp_path / "index"
    index = _embedded(folder, corpus, slice(0, 20))
    (folder / dense.files(index._manifest["vectors"]["file"])[1]).unlink()
    with pytest.raises(RagtuneError) as caught:
        EmbeddedIndex.open(folder)
    assert "damaged" in str(caught.value) and "\n" not in str(caught.value)


def test_a_snapshot_index_is_migrated_once_and_atomically(tmp_path, corpus, monkeypatch):
    folder = tmp_path / "index"
    old = _build(IndexStore, folder, corpus, slice(0, 80))

    def killed(self, gen, manifest):
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog.Transaction, "publish", killed)
    with pytest.raises(KeyboardInterrupt):
        open_index(folder)
    monkeypatch.undo()
    assert not (folder / catalog.CATALOG).exists() and len(IndexStore.load(folder)) == 80  # still the old one

    migrated = open_index(folder)
    assert isinstance(migrated, EmbeddedIndex) and not (folder / "CURRENT").exists()
    assert list(migrated.passages) == list(old.passages) and migrated.sources == old.sources
    np.testing.assert_array_equal(np.asarray(migrated.vectors()), np.asarray(old.vectors()))
    assert not [p for p in folder.iterdir() if p.name.startswith(("snap-", ".tmp-", ".catalog-new"))]
    assert open_index(folder).version(folder) == migrated.version(folder)  # once


def test_bm25_parameters_tantivy_cannot_use_are_refused(tmp_path):
    with pytest.raises(RagtuneError, match="k1=1.2"):
        EmbeddedIndex.create(tmp_path / "index", Config.load(**{"index.bm25_k1": 1.5}), "x", 4)
    assert (Config().index.bm25_k1, Config().index.bm25_b) == (lexical.K1, lexical.B)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})


def _with_dead_rows(folder, corpus):
    passages, _, _, embedder = corpus
    index = _embedded(folder, corpus, **{"index.compact_dead_share": 1.0})
    with index.lock():
        index.replace({p.source for p in passages[:60]}, {}, [], np.zeros((0, embedder.dim)), [])
        index.commit()
    return index


def test_index_optimize_command_compacts(tmp_path, corpus):
    folder = tmp_path / "index"
    before = _with_dead_rows(folder, corpus)
    assert before._manifest["lexical_docs"] == 200
    done = _cli("index", "optimize", "--index", folder)
    assert done.returncode == 0, done.stderr
    assert "optimized 140 passages" in done.stdout
    after = EmbeddedIndex.open(folder)
    assert after._manifest["lexical_docs"] == 140 and list(after.passages) == list(before.passages)
    missing = _cli("index", "optimize", "--index", tmp_path / "nothing")
    assert missing.returncode != 0 and "no index here" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_sigkill_during_optimize_leaves_a_loadable_index(tmp_path, corpus):
    """kill -9 at random moments of `ragtune index optimize`: the index opens, with the same passages, and the
    next optimize finishes the job."""
    pristine = tmp_path / "pristine"
    before = list(_with_dead_rows(pristine, corpus).passages)
    started = time.perf_counter()
    assert _cli("index", "optimize", "--index", shutil.copytree(pristine, tmp_path / "timed")).returncode == 0
    lifetime = time.perf_counter() - started
    rng = random.Random(5)
    for run in range(4):
        folder = shutil.copytree(pristine, tmp_path / f"run{run}")
        writer = subprocess.Popen([sys.executable, "-m", "ragtune.cli", "index", "optimize", "--index", str(folder)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        time.sleep(rng.uniform(0.5, 1.0) * lifetime)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        assert list(EmbeddedIndex.open(folder).passages) == before
        assert _cli("index", "optimize", "--index", folder).returncode == 0
        after = EmbeddedIndex.open(folder)
        assert list(after.passages) == before and after._manifest["lexical_docs"] == len(before)
