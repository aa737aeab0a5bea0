"""Hand-computed Recall@k, MRR@k and nDCG@k, including graded qrels and repeated chunk ids."""

from __future__ import annotations

import math

import pytest

from ragtune.eval.retrieval_metrics import dedupe, mrr_at_k, ndcg_at_k, recall_at_k, score_retrieval

CHUNKED = ["p1", "p1", "p2", "p3", "p2", "p4"]  # dedupes to p1, p2, p3, p4


def test_dedupe_keeps_first_occurrence() -> None:
    assert dedupe(CHUNKED) == ["p1", "p2", "p3", "p4"]


def test_recall_counts_passages_not_chunks() -> None:
    qrels = {"p3": 1, "p5": 1}
    assert recall_at_k(CHUNKED, qrels, 1) == 0.0
    assert recall_at_k(CHUNKED, qrels, 3) == pytest.approx(0.5)  # raw top-3 would be p1, p1, p2
    assert recall_at_k(CHUNKED, qrels, 20) == pytest.approx(0.5)
    assert recall_at_k(["p1", "p1", "p1"], {"p1": 1}, 5) == pytest.approx(1.0)


def test_recall_ignores_zero_grades() -> None:
    assert recall_at_k(["a", "b"], {"a": 0, "b": 1}, 1) == 0.0
    assert recall_at_k(["a", "b"], {"a": 0, "b": 1}, 2) == pytest.approx(1.0)


def test_mrr_uses_deduplicated_rank() -> None:
    assert mrr_at_k(CHUNKED, {"p3": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(CHUNKED, {"p3": 1}, 2) == 0.0
    assert mrr_at_k(CHUNKED, {"p2": 2, "p4": 1}, 10) == pytest.approx(1 / 2)


def test_ndcg_graded_relevance() -> None:
    ranking = ["a", "b", "a", "c"]  # -> a, b, c
    qrels = {"a": 1, "b": 0, "c": 2, "d": 1}
    idcg10 = 2 / 1 + 1 / math.log2(3) + 1 / 2  # ideal gains 2, 1, 1
    # DCG = 1/log2(2) + 0 + 2/log2(4) = 2 (the repeated "a" adds nothing)
    assert ndcg_at_k(ranking, qrels, 10) == pytest.approx(2 / idcg10)
    # cut at 2: DCG = 1, IDCG = 2 + 1/log2(3)
    assert ndcg_at_k(ranking, qrels, 2) == pytest.approx(1 / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["c", "a", "d"], qrels, 10) == pytest.approx(1.0)


def test_no_relevant_passage_scores_zero() -> None:
    assert recall_at_k(["a"], {"a": 0}, 5) == 0.0
    assert mrr_at_k(["a"], {}, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0


def test_score_retrieval_means() -> None:
    rankings = [CHUNKED, ["x", "y", "x", "z"]]
    qrels = [{"p3": 1, "p5": 1}, {"x": 2, "z": 1}]
    scores = score_retrieval(rankings, qrels)
    # q1: r@1 0, r@5 .5, r@20 .5, mrr 1/3, ndcg = (1/log2 4) / (1 + 1/log2 3)
    # q2 (x, y, z): r@1 .5, r@5 1, r@20 1, mrr 1, ndcg = (2 + 1/log2 4) / (2 + 1/log2 3)
    ndcg1 = 0.5 / (1 + 1 / math.log2(3))
    ndcg2 = 2.5 / (2 + 1 / math.log2(3))
    assert scores == {
        "recall@1": pytest.approx(0.25),
        "recall@5": pytest.approx(0.75),
        "recall@20": pytest.approx(0.75),
        "mrr@10": pytest.approx((1 / 3 + 1) / 2),
        "ndcg@10": pytest.approx((ndcg1 + ndcg2) / 2),
    }


def test_all_required_recall_counts_a_question_only_when_every_gold_passage_is_in() -> None:
    qrels = {"bridge": 1, "answer": 1}
    ranking = ["answer", "noise", "bridge", "other"]
    assert recall_at_k(ranking, qrels, 2) == pytest.approx(0.5)  # the SQuAD/BEIR definition: a share
    assert recall_at_k(ranking, qrels, 2, all_required=True) == 0.0
    assert recall_at_k(ranking, qrels, 3, all_required=True) == 1.0
    assert recall_at_k(["answer", "answer", "bridge"], qrels, 2, all_required=True) == 1.0  # chunks count once


def test_score_retrieval_adds_recall_at_2_only_for_multihop_sets() -> None:
    rankings = [["a", "x", "b"], ["c", "d"]]
    qrels = [{"a": 1, "b": 1}, {"d": 1}]
    plain = score_retrieval(rankings, qrels)
    assert list(plain) == ["recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10"]
    assert plain == score_retrieval(rankings, qrels, [False, False])  # unchanged for SQuAD/BEIR data
    assert plain["recall@1"] == pytest.approx((0.5 + 0.0) / 2)
    multihop = score_retrieval(rankings, qrels, [True, True])
    assert list(multihop) == ["recall@1", "recall@2", "recall@5", "recall@20", "mrr@10", "ndcg@10"]
    assert multihop["recall@1"] == 0.0
    assert multihop["recall@2"] == pytest.approx(0.5)  # only the second question has all of its one gold
    assert multihop["recall@5"] == pytest.approx(1.0)
    assert multihop["mrr@10"] == plain["mrr@10"] and multihop["ndcg@10"] == plain["ndcg@10"]
