"""Retrieval metrics (Recall@k, MRR@k, nDCG@k) as BEIR / pytrec_eval define them, over chunked passages."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Rankings may name the same passage several times (one entry per chunk). Every metric first keeps only
# the first occurrence of each id, so a hit on any chunk of a passage counts once, at its best rank.
# A query with no relevant passage (no qrel > 0) scores 0 on every metric, as in trec_eval. A multi-hop query
# (all_required) is found at k only when all its relevant passages are in the top k; MRR and nDCG stay as defined.


def dedupe(ranking: Sequence[str]) -> list[str]:
    """Drop repeated ids, keeping the first (best-ranked) occurrence."""
    return list(dict.fromkeys(ranking))


def _relevant(qrels: Mapping[str, int]) -> set[str]:
    return {pid for pid, rel in qrels.items() if rel > 0}


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int, all_required: bool = False) -> float:
    """|relevant ∩ top-k| / |relevant|; `all_required` (multi-hop questions): 1 when every relevant passage is in
    the top k, else 0."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    found = len(relevant.intersection(dedupe(ranking)[:k]))
    if all_required:
        return float(found == len(relevant))
    return found / len(relevant)


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
    rankings: Sequence[Sequence[str]], qrels: Sequence[Mapping[str, int]],
    all_required: Sequence[bool] | None = None,
) -> dict[str, float]:
    """Mean recall@1/5/20, mrr@10 and ndcg@10 (0–1) over queries.

    `all_required` marks the queries (multi-hop) found at k only when all their relevant passages are in the top k:
    their recall@k is 0 or 1, and when any query is one, recall@2 is scored too (two-hop questions need two).
    """
    if len(rankings) != len(qrels):
        raise ValueError("rankings and qrels differ in length")
    required = list(all_required) if all_required is not None else [False] * len(rankings)
    if len(required) != len(rankings):
        raise ValueError("rankings and all_required differ in length")
    depths = (1, 2, 5, 20) if any(required) else (1, 5, 20)
    metrics = {f"recall@{k}": (lambda r, q, a, k=k: recall_at_k(r, q, k, a)) for k in depths}
    metrics["mrr@10"] = lambda r, q, a: mrr_at_k(r, q, 10)
    metrics["ndcg@10"] = lambda r, q, a: ndcg_at_k(r, q, 10)
    n = len(rankings)
    return {
        name: (sum(fn(r, q, a) for r, q, a in zip(rankings, qrels, required, strict=True)) / n if n else 0.0)
        for name, fn in metrics.items()
    }
