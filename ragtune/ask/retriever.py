"""Hybrid retrieval: dense and BM25 candidates, fused, cut to top-k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ragtune.ask.fusion import create_fusion
from ragtune.ask.rerankers import Reranker, create_rerankers
from ragtune.config import Config, RetrievalConfig
from ragtune.index.backends import IndexBackend
from ragtune.index.embedders import Embedder
from ragtune.index.passage import Passage
from ragtune.index.tokenize import tokenize
from ragtune.text import language_of


@dataclass
class RetrievedPassage:
    """A passage with the scores that ranked it."""

    passage: Passage
    score: float
    dense_score: float
    bm25_score: float
    relevant: bool

    @property
    def id(self) -> str:
        return self.passage.id

    def to_json(self, cited: bool = False) -> dict:
        """How ask --json and the server show a passage."""
        return {"id": self.id, "title": self.passage.title, "text": self.passage.text, "score": round(self.score, 6),
                "chunk": self.passage.chunk, "cited": cited}


class HybridRetriever:
    """Takes each retriever's top candidates from the index, scores their union exactly with both, fuses it.

    `rerankers` (question language -> reranker) are built from the whole config by the pipeline, as some need
    more than retrieval settings (generator-ql: the generator and the cache); None builds them from `config` and
    the default other sections.
    """

    def __init__(self, store: IndexBackend, embedder: Embedder, config: RetrievalConfig,
                 rerankers: dict[str, Reranker] | None = None):
        if config.dense_weight is None:
            config = config.model_copy(update={"dense_weight": embedder.dense_weight})
        self.store, self.embedder, self.config = store, embedder, config
        self.fusion = create_fusion(config)
        self.rerankers = create_rerankers(Config(retrieval=config)) if rerankers is None else rerankers

    def retrieve(self, query: str, k: int | None = None, rerank: bool = True) -> list[RetrievedPassage]:
        return self.retrieve_many([query], k, rerank)[0]

    def retrieve_many(self, queries: list[str], k: int | None = None, rerank: bool = True
                      ) -> list[list[RetrievedPassage]]:
        """Batch form: queries are embedded together (what eval uses). `rerank=False`: the fused order alone
        (a server's fast path)."""
        k = k or self.config.top_k
        rerank = rerank and bool(self.rerankers)
        pool = max(k, self.config.rerank_candidates) if rerank else k
        if len(self.store) == 0:
            return [[] for _ in queries]
        views = [self.store.search_text(q) for q in queries]
        vectors = self.embedder.encode_queries(views)
        ranked = [self._rank(vector, tokenize(view), pool) for view, vector in zip(views, vectors)]
        return [(self._rerank(q, r) if rerank else r)[:k] for q, r in zip(queries, ranked)]

    def _rerank(self, query: str, ranked: list[RetrievedPassage]) -> list[RetrievedPassage]:
        """The reranker's order over the fused top `rerank_candidates`, when one covers the query's language;
        deeper candidates follow in fused order."""
        reranker = self.rerankers.get(language_of(query))
        if reranker is None or not ranked or not _unsure(ranked, reranker.margin):
            return ranked
        depth = reranker.candidates or self.config.rerank_candidates
        head, tail = ranked[:depth], ranked[depth:]
        scores = reranker.scores(query, [r.passage.embedding_text for r in head])
        for item, score in zip(head, scores):
            item.score = float(score)
        return sorted(head, key=lambda r: -r.score) + tail

    def candidate_scores(self, query_vector: np.ndarray, query_tokens: list[str]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pool rows, their dense scores, their BM25 scores): the pool fusion ranks is the union of the dense and
        BM25 top `candidates` (rows in order), each scored exactly by both retrievers."""
        store = self.store
        pool = min(self.config.candidates, len(store))
        _, dense_rows = store.dense_top(query_vector[None, :], pool)
        lexical_rows, lexical_scores = store.lexical_top(query_tokens, pool)
        rows = np.union1d(dense_rows[0][dense_rows[0] >= 0], lexical_rows)
        bm25 = np.zeros(len(rows), np.float32)
        found = np.isin(rows, lexical_rows)
        bm25[np.searchsorted(rows, lexical_rows)] = lexical_scores
        if not found.all() and len(lexical_rows) == pool:  # else every matching row is in already
            bm25[~found] = store.lexical_scores(query_tokens, rows[~found])
        return rows, store.dense_scores(query_vector, rows), bm25

    def _rank(self, query_vector: np.ndarray, query_tokens: list[str], k: int) -> list[RetrievedPassage]:
        rows, dense, bm25 = self.candidate_scores(query_vector, query_tokens)
        fused = self.fusion.fuse(dense, bm25, np.arange(len(rows)))
        order = np.argsort(-fused, kind="stable")[:k]
        passages = self.store.passages
        return [
            RetrievedPassage(
                passage=passages[int(rows[i])],
                score=float(fused[i]),
                dense_score=float(dense[i]),
                bm25_score=float(bm25[i]),
                relevant=bool(bm25[i] > 0 or dense[i] >= self.config.min_dense_score),
            )
            for i in order.tolist()
        ]


def _unsure(ranked: list[RetrievedPassage], margin: float | None) -> bool:
    """Whether the fused leader leads the best passage of another document by less than `margin` of its score."""
    if margin is None:
        return True
    leader = ranked[0]
    runner_up = next((r.score for r in ranked if r.id != leader.id), None)
    if runner_up is None:
        return False  # one document: nothing to reorder
    return leader.score <= 0 or (leader.score - runner_up) / leader.score < margin
