"""Every index backend behaves the same: add/replace/delete, snapshot reads, stable ids, the same search results.

Each test runs against the embedded store (a folder) and PostgreSQL + pgvector (a schema on the session's local
server), on real CMRC 2018 and SQuAD passages embedded by the real default embedder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.backends import open_index, open_or_create_index, write_lock
from ragtune.index.bm25 import BM25Index
from ragtune.index.indexer import optimize_index
from ragtune.index.passage import Passage
from ragtune.index.tokenize import tokenize

BACKENDS = ["embedded", "postgresql"]
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CMRC_DEV = SHARED / "cmrc2018" / "cmrc2018_dev.json"
SQUAD_DEV = SHARED / "expmrc-squad" / "expmrc-squad-dev.json"


class Corpus:
    """Passages of a few real articles, grouped by source (one source per article), with vectors and tokens."""

    def __init__(self, embedder):
        self.sources: dict[str, list[Passage]] = {}
        for path, articles in ((CMRC_DEV, 8), (SQUAD_DEV, 2)):
            for article in json.loads(path.read_text(encoding="utf-8"))["data"][:articles]:
                key = f"{path.stem}/{article['title']}"
                self.sources[key] = [Passage(f"{key}#{i}", i, article["title"], p["context"], key)
                                     for i, p in enumerate(article["paragraphs"][:6])]
        every = [p for ps in self.sources.values() for p in ps]
        vectors = embedder.encode_passages([p.embedding_text for p in every], progress=False)
        self.vector = {(p.id, p.chunk): v for p, v in zip(every, np.asarray(vectors, np.float32))}
        self.embedder, self.dim = embedder.name, int(vectors.shape[1])

    def batch(self, keys: list[str]) -> tuple[dict, list[Passage], np.ndarray, list[list[str]]]:
        passages = [p for k in keys for p in self.sources[k]]
        vectors = np.stack([self.vector[(p.id, p.chunk)] for p in passages])
        return ({k: {"sha256": k, "documents": 1} for k in keys}, passages, vectors,
                [tokenize(p.embedding_text) for p in passages])


@pytest.fixture(scope="module")
def corpus(embedder) -> Corpus:
    return Corpus(embedder)


@pytest.fixture(params=BACKENDS)
def location(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return tmp_path / "index"


def write(location, corpus: Corpus, add: list[str] = (), remove: set[str] = frozenset()) -> tuple[int, str]:
    """One writer's change, committed: (passages dropped, new version)."""
    config = Config()
    with write_lock(location, config=config):
        index = open_or_create_index(location, config, corpus.embedder, corpus.dim)
        sources, passages, vectors, tokens = corpus.batch(list(add)) if add else ({}, [], np.zeros((0, 0)), [])
        dropped = index.replace(set(remove), sources, passages, vectors, tokens)
        return dropped, index.commit()


def keys_of(index) -> list[tuple[str, int]]:
    return [(p.id, p.chunk) for p in index.passages]


def test_add_replace_delete(location, corpus):
    a, b, c = list(corpus.sources)[:3]
    assert write(location, corpus, add=[a, b])[0] == 0
    index = open_index(location)
    assert keys_of(index) == [(p.id, p.chunk) for p in corpus.sources[a] + corpus.sources[b]]
    assert set(index.sources) == {a, b} and index.sources[a]["sha256"] == a
    assert index.source_passages(b) == corpus.sources[b]
    # a changed source is replaced: its old passages go, its new ones come after the rest
    dropped, _ = write(location, corpus, add=[a, c], remove={a})
    assert dropped == len(corpus.sources[a])
    index = open_index(location)
    assert keys_of(index) == [(p.id, p.chunk) for p in corpus.sources[b] + corpus.sources[a] + corpus.sources[c]]
    assert len(index) == len(index.passages) == len(index.vectors())
    # a deleted source leaves nothing behind, in search either
    assert write(location, corpus, remove={b})[0] == len(corpus.sources[b])
    index = open_index(location)
    assert set(index.sources) == {a, c} and index.source_passages(b) == []
    assert all(p.source != b for p in index.passages)
    rows, _ = index.lexical_top(tokenize(corpus.sources[b][0].text), len(index))
    assert all(index.passages[r].source != b for r in rows)


def test_readers_keep_their_snapshot(location, corpus):
    a, b, c = list(corpus.sources)[:3]
    first = write(location, corpus, add=[a, b])[1]
    reader = open_index(location)
    query = tokenize(corpus.sources[c][0].text)
    before = keys_of(reader), reader.lexical_top(query, 10)[0].tolist(), dict(reader.sources)
    second = write(location, corpus, add=[c], remove={a})[1]
    assert second != first
    # the reader still sees the state it opened, in every part, until it opens the index again
    assert (keys_of(reader), reader.lexical_top(query, 10)[0].tolist(), dict(reader.sources)) == before
    assert len(reader) == len(corpus.sources[a]) + len(corpus.sources[b]) == len(reader.vectors())
    fresh = open_index(location)
    assert {p.source for p in fresh.passages} == {b, c}


def test_uncommitted_changes_are_never_seen(location, corpus):
    a, b = list(corpus.sources)[:2]
    version = write(location, corpus, add=[a])[1]
    config = Config()
    with write_lock(location, config=config):
        index = open_index(location, config)
        index.replace({a}, *corpus.batch([b]))
        # ...and then dies without committing
    index = open_index(location)
    assert [p.source for p in index.passages] == [a] * len(corpus.sources[a])
    assert index.passages[0] == corpus.sources[a][0]
    assert type(open_index(location)).version(location) == version


def test_ids_stay_while_rows_move(location, corpus):
    a, b = list(corpus.sources)[:2]
    write(location, corpus, add=[a, b])
    opened = open_index(location)
    before = {(p.id, p.chunk): p for p in opened.passages}
    write(location, corpus, remove={a})
    index = open_index(location)
    # rows renumber (b's passages now start at row 0); ids, text and vectors of what stayed do not change
    assert index.passages[0] == corpus.sources[b][0]
    for row, passage in enumerate(index.passages):
        assert before[(passage.id, passage.chunk)] == passage
        np.testing.assert_allclose(index.vectors()[row], corpus.vector[(passage.id, passage.chunk)], atol=1e-6)


def test_search_matches_exact_bm25_and_dense(location, corpus, embedder):
    keys = list(corpus.sources)
    write(location, corpus, add=keys[:6])
    write(location, corpus, add=keys[6:], remove={keys[1]})  # search over a changed index, not one fresh load
    optimize_index(location)  # the embedded backend's BM25 statistics count deleted passages until it compacts
    index = open_index(location)
    passages = list(index.passages)
    tokens = [tokenize(p.embedding_text) for p in passages]
    vectors = np.stack([corpus.vector[(p.id, p.chunk)] for p in passages])
    reference = BM25Index()
    reference.build(tokens)
    questions = ["《战国无双3》是由哪两个公司合作开发的？", "锣鼓经是什么？", "大陆怎么称呼大涌？",
                 "Which NFL team represented the AFC at Super Bowl 50?", "Where did Super Bowl 50 take place?"]
    query_vectors = embedder.encode_queries(questions)
    matched = 0
    for question, query_vector in zip(questions, query_vectors):
        query = tokenize(question)
        expected = reference.scores(query)
        rows, scores = index.lexical_top(query, 8)
        best = np.flatnonzero(expected > 0)
        best = best[np.lexsort((best, -expected[best]))][:8]
        assert rows.tolist() == best.tolist()
        matched += len(rows) > 0
        # bm25s's scores: exactly in SQL (postgresql); tantivy (embedded) keeps lengths in one byte, within 2%
        np.testing.assert_allclose(scores, expected[rows], rtol=0.02)
        some = np.unique([0, 3, len(passages) - 1, *rows[:2]])
        np.testing.assert_allclose(index.lexical_scores(query, some), expected[some], rtol=0.02)
        exact = vectors @ query_vector
        scores, rows = index.dense_top(query_vector[None, :], 8)
        assert rows[0].tolist() == np.argsort(-exact, kind="stable")[:8].tolist()
        np.testing.assert_allclose(scores[0], exact[rows[0]], rtol=1e-5)
        np.testing.assert_allclose(index.dense_scores(query_vector, some), vectors[some] @ query_vector, rtol=1e-6)
    assert matched >= 3


def test_reembedding_replaces_every_vector(location, corpus):
    a = list(corpus.sources)[-1]  # a source of several passages
    write(location, corpus, add=[a])
    config = Config()
    rotated = np.roll(corpus.batch([a])[2], 1, axis=1)[:, :32]
    with write_lock(location, config=config):
        index = open_index(location, config)
        index.replace_vectors("another-embedder", rotated)
        index.commit()
    index = open_index(location)
    assert index.embedder == "another-embedder" and index.dim == 32
    np.testing.assert_allclose(index.vectors(), rotated, atol=1e-6)
    assert index.dense_top(rotated[2:3], 1)[1][0, 0] == 2 and len(rotated) > 2


def test_writing_a_missing_index_without_create_is_a_one_line_error(location):
    with pytest.raises(RagtuneError, match="no index here"), write_lock(location, create=False, config=Config()):
        pass
    with pytest.raises(RagtuneError, match="no index here"):
        open_index(location)
