"""ROUGE-1/2/L of summaries (character-level for Chinese) and lexical faithfulness, on inputs worked by hand."""

from __future__ import annotations

import pytest

from ragtune.eval.answer_metrics import rouge_scores
from ragtune.eval.faithfulness import (
    faithfulness,
    mean_faithfulness,
    sentence_support,
    source_grams,
    supported_sentences,
)
from ragtune.eval.summaries import mean_scores, score_summaries
from ragtune.read.summaries import SummaryPair


def test_english_rouge_on_words():
    scores = rouge_scores("the cat sat on the mat", ["the cat lay on the mat"], "en")
    # unigrams: 5 of 6 shared; bigrams: "the cat", "on the", "the mat" = 3 of 5; LCS: the cat on the mat = 5
    assert scores["rouge1"] == pytest.approx(5 / 6)
    assert scores["rouge2"] == pytest.approx(3 / 5)
    assert scores["rougeL"] == pytest.approx(5 / 6)


def test_chinese_rouge_on_characters_and_best_reference():
    scores = rouge_scores("飞行器控制器设计", ["控制器设计方法", "完全无关"], "zh")
    # 5 characters shared of 8 predicted and 7 referenced: F1 = 2·5/(8+7)
    assert scores["rouge1"] == pytest.approx(10 / 15)
    assert scores["rouge2"] == pytest.approx(2 * 4 / (7 + 6))  # 控制 制器 器设 设计
    assert scores["rougeL"] == pytest.approx(10 / 15)
    # without a character tokenizer, rouge-score would see no token at all in Chinese text
    assert rouge_scores("飞行器", ["飞行器"], "zh")["rougeL"] == 1.0


def test_faithfulness_counts_supported_sentences():
    source = "Andros Townsend came on in the 83rd minute. Tottenham drew 0-0 with Burnley on Sunday."
    summary = "Townsend came on in the 83rd minute. Tottenham beat Chelsea five times in a row."
    grams = source_grams(source)
    assert sentence_support("Townsend came on in the 83rd minute.", grams) == 1.0
    assert sentence_support("Tottenham beat Chelsea five times in a row.", grams) == 0.0
    assert faithfulness(summary, source) == 0.5
    assert faithfulness("", source) is None
    assert mean_faithfulness([summary, ""], [source, source]) == 25.0  # an empty summary counts 0


def test_supported_sentences_keeps_what_the_source_says_in_order():
    source = "Andros Townsend came on in the 83rd minute. Tottenham drew 0-0 with Burnley on Sunday."
    summary = ("Tottenham beat Chelsea five times in a row. Townsend came on in the 83rd minute. "
               "Tottenham drew 0-0 with Burnley. !!!")
    assert supported_sentences(summary, source) == ["Townsend came on in the 83rd minute.",
                                                    "Tottenham drew 0-0 with Burnley."]
    assert supported_sentences(summary, source, threshold=1.0) == ["Townsend came on in the 83rd minute.",
                                                                   "Tottenham drew 0-0 with Burnley."]
    assert supported_sentences("Chelsea won.", source) == []


def test_chinese_faithfulness_uses_character_bigrams_not_characters():
    source = "仿真结果表明，这种方法简化了设计过程。"
    # every character occurs in the source, but in another order: no bigram does
    assert sentence_support("程过计设了化简", source_grams(source)) == 0.0
    assert faithfulness("这种方法简化了设计过程。", source) == 1.0


def test_scores_per_summary_and_their_mean():
    pairs = [SummaryPair("a", "the cat sat on the mat.", ("the cat sat on the mat",)),
             SummaryPair("b", "飞行器控制器设计。", ("控制器设计",))]
    scored = score_summaries(["the cat sat on the mat.", "无关内容"], pairs, ["en", "zh"], 0.6)
    assert scored[0]["rougeL"] == pytest.approx(100) and scored[0]["faithfulness"] == pytest.approx(100)
    assert scored[1]["rougeL"] == 0 and scored[1]["faithfulness"] == 0
    assert mean_scores(scored) == {"rouge1": 50.0, "rouge2": 50.0, "rougeL": 50.0, "faithfulness": 50.0}
