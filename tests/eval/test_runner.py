"""The eval runner on a real index: retrieval metrics, per-question records, BEIR and flag rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragtune.errors import RagtuneError, RagtuneWarning
from ragtune.eval.runner import evaluate, gold_coverage
from ragtune.read.questions import Question, load_questions


def test_retrieval_only_finds_gold_paragraphs(sample_pipeline, squad_sample):
    questions = load_questions(squad_sample)
    assert len(questions) == 37
    questions = questions[::3]  # 13 of them: the cross-encoder's minute over all 37 adds no check
    result = evaluate(sample_pipeline, questions, retrieval_only=True, progress=False)
    metrics = result.metrics
    assert metrics["n"] == len(questions) == 13
    assert set(metrics) == {"n", "retrieval", "seconds", "gold_in_index"}  # no warnings: every gold id is indexed
    assert metrics["gold_in_index"] == 1.0
    assert set(metrics["retrieval"]) == {"recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10"}
    assert metrics["retrieval"]["recall@5"] >= 0.9  # measured: 1.0
    assert metrics["retrieval"]["recall@1"] <= metrics["retrieval"]["recall@5"] <= metrics["retrieval"]["recall@20"]
    for record in result.records:
        assert len(record.retrieved) == len(set(record.retrieved)) <= 20
        assert record.hit == any(pid in record.qrels for pid in record.retrieved[:5])
        assert record.prediction is None and record.raw is None
    assert result.settings["retrieval_only"] and result.settings["k"] == 5


def test_questions_without_answers_score_retrieval_only(sample_pipeline, squad_sample):
    """BEIR data has no reference answers: nothing is generated (no generator is ever loaded)."""
    gold = load_questions(squad_sample)[0]
    questions = [Question("q1", gold.text, (), {next(iter(gold.qrels)): 2, "nonexistent": 1})]
    result = evaluate(sample_pipeline, questions, progress=False)
    assert set(result.metrics) == {"n", "retrieval", "seconds", "gold_in_index"}  # half present: no warning yet
    assert result.metrics["retrieval"]["recall@20"] == pytest.approx(0.5)
    assert result.metrics["gold_in_index"] == 0.5
    assert not sample_pipeline.loaded("generator")
    with pytest.raises(RagtuneError, match="closed-book"):
        evaluate(sample_pipeline, questions, closed_book=True, progress=False)


def test_retrieval_only_and_closed_book_exclude_each_other(sample_pipeline, squad_sample):
    with pytest.raises(RagtuneError, match="exclude"):
        evaluate(sample_pipeline, load_questions(squad_sample)[:1], retrieval_only=True, closed_book=True)


def test_gold_ids_missing_from_the_index_are_warned_about(sample_pipeline, squad_sample):
    """Ids of another file's paragraphs (another stem) are not in the index: recall 0 says nothing."""
    questions = load_questions(squad_sample)[:4]
    questions[1:] = [replace(q, qrels={pid.replace("squad_sample-", "subset-"): rel for pid, rel in q.qrels.items()})
                     for q in questions[1:]]
    result = evaluate(sample_pipeline, questions, retrieval_only=True, progress=False, data="subset.json")
    gold = {pid for q in questions for pid in q.qrels}
    assert len(gold) == 4 and result.metrics["gold_in_index"] == 0.25
    [warning] = result.metrics["warnings"]
    first_missing = next(pid for q in questions[1:] for pid in q.qrels)
    assert warning.startswith(f"subset.json: only 1 of {len(gold)} gold passage ids are in the index "
                              f"(first missing: {first_missing!r})")
    assert "\n" not in warning and "index the same file" in warning
    empty = gold_coverage([{}], set())
    assert empty[0] == 0.0 and "0 of 0" in empty[1] and "first missing" not in empty[1]


def test_empty_and_endless_questions_are_left_out_with_one_warning(sample_pipeline, squad_sample):
    """One bad question in a data file costs that question, not the whole eval (ask refuses it with exit 2)."""
    questions = load_questions(squad_sample)[:3]
    limit = sample_pipeline.config.retrieval.max_question_chars
    questions[0] = replace(questions[0], text="   ")
    questions[2] = replace(questions[2], text="why " * limit)
    with pytest.warns(RagtuneWarning, match=r"subset.json: 2 question\(s\) left out, first .*empty"):
        result = evaluate(sample_pipeline, questions, retrieval_only=True, progress=False, data="subset.json")
    assert result.metrics["n"] == 1 and result.metrics["skipped_questions"] == 2
    assert [r.id for r in result.records] == [questions[1].id]
