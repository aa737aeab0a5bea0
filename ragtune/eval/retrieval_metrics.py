"""Retrieval metrics (Recall@k, MRR@k, nDCG@k) as BEIR / pytrec_eval define them, over chunked passages."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Rankings may name the same passage several times (one entry per chunk). Every metric first keeps only
# the first occurrence of each id, so a hit on any chunk of a passage counts once, at its best rank.
# A query with no relevant passage (no qrel > 0) scores 0 on every metric, as in trec_eval.


def dedupe(ranking: Sequence[str]) -> list[str]:
    """Drop repeated ids, keeping the first (best-ranked) occurrence."""
    return list(dict.fromkeys(ranking))


def _relevant(qrels: Mapping[str, int]) -> set[str]:
    return {pid for pid, rel in qrels.items() if rel > 0}


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """|relevant ∩ top-k| / |relevant|."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    return len(relevant.intersection(dedupe(ranking)[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant passage within the top k, else 0."""
    relevant = _relevant(qrels)
    for rank, pid in enumerate(dedupe(ranking)[:k], start=1):
        if pid in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k with gain = graded relevance and discount log2(rank + 1); IDCG from the sorted qrels."""
    dcg = sum(
        max(qrels.get(pid, 0), 0) / math.log2(rank + 1)
        for rank, pid in enumerate(dedupe(ranking)[:k], start=1)
    )
    ideal = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def score_retrieval(
    rankings: Sequence[Sequence[str]], qrels: Sequence[Mapping[str, int]]
) -> dict[str, float]:
    """Mean recall@1/5/20, mrr@10 and ndcg@10 (0–1) over queries."""
    if len(rankings) != len(qrels):
        raise ValueError("rankings and qrels differ in length")
    metrics = {
        "recall@1": lambda r, q: recall_at_k(r, q, 1),
        "recall@5": lambda r, q: recall_at_k(r, q, 5),
        "recall@20": lambda r, q: recall_at_k(r, q, 20),
        "mrr@10": lambda r, q: mrr_at_k(r, q, 10),
        "ndcg@10": lambda r, q: ndcg_at_k(r, q, 10),
    }
    n = len(rankings)
    return {
        name: (sum(fn(r, q) for r, q in zip(rankings, qrels, strict=True)) / n if n else 0.0)
        for name, fn in metrics.items()
    }
