"""Fitting the dense/BM25 fusion weight on held-out questions, so a tuned retriever changes what users get.

The fused score is `dense_weight · minmax(cosine) + bm25_weight · minmax(BM25)` over the candidate pool
(ask/fusion.py LinearFusion). With a fixed dense weight (USE: 0.4) BM25 dominated, and a query adapter that
raised held-out dense MRR@10 from 0.77 to 0.86 moved hybrid recall@1 by 0.001. Here the weight is chosen by
the adapted retriever's hybrid MRR@10 on the questions training never saw; BM25's weight stays 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ragtune.ask.fusion import minmax
from ragtune.ask.retriever import HybridRetriever
from ragtune.index.tokenize import tokenize

#: dense weights tried (BM25's is 1): from BM25 alone to dense-dominated
WEIGHT_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0)


@dataclass
class _Pool:
    """One question's candidates: min-max scaled dense and BM25 scores, and which are its positives."""

    doc_ids: list[str]
    dense: np.ndarray
    bm25: np.ndarray
    positive: np.ndarray


def candidate_pools(retriever: HybridRetriever, questions: Sequence[str], vectors: np.ndarray,
                    positives: Sequence[set[str]]) -> list[_Pool]:
    """The pool `retriever` fuses for each question (its candidate_scores), scaled as LinearFusion scales it."""
    store = retriever.store
    pools = []
    for question, vector, wanted in zip(questions, vectors, positives, strict=True):
        rows, dense, bm25 = retriever.candidate_scores(np.asarray(vector, np.float32),
                                                       tokenize(store.search_text(question)))
        ids = [store.passages[r].id for r in rows]
        pools.append(_Pool(ids, minmax(dense), minmax(bm25), np.array([d in wanted for d in ids])))
    return pools


def hybrid_mrr(pools: Sequence[_Pool], dense_weight: float, k: int = 10) -> float:
    """MRR@k over distinct documents (a hit on any chunk counts once, as eval scores it)."""
    total = 0.0
    for pool in pools:
        order = np.argsort(-(dense_weight * pool.dense + pool.bm25), kind="stable")
        seen: list[str] = []
        for row in order:
            doc = pool.doc_ids[row]
            if doc in seen:
                continue
            seen.append(doc)
            if pool.positive[row]:
                total += 1.0 / len(seen)
                break
            if len(seen) == k:
                break
    return total / max(len(pools), 1)


def fit_dense_weight(pools: Sequence[_Pool], default: float) -> dict:
    """The grid weight with the best held-out hybrid MRR@10; the default stays unless another wins by more
    than one question's worth (1/n), so a few held-out questions cannot move it on noise."""
    default_mrr = hybrid_mrr(pools, default)
    scores = {w: hybrid_mrr(pools, w) for w in WEIGHT_GRID}
    best = max(scores, key=lambda w: (scores[w], -abs(w - default)))
    if scores[best] - default_mrr <= 1.0 / max(len(pools), 1):
        best = default
    fitted_mrr = default_mrr if best == default else scores[best]
    return {"dense_weight": best, "bm25_weight": 1.0, "questions": len(pools),
            "default_dense_weight": default, "default_mrr@10": round(default_mrr, 4),
            "fitted_mrr@10": round(fitted_mrr, 4),
            "grid": {str(w): round(s, 4) for w, s in scores.items()}}
