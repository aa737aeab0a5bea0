"""Hand-computed cases for EM/F1 (SQuAD v1.1, CMRC 2018), BLEU and ROUGE-L."""

from __future__ import annotations

import math

import pytest

from ragtune.eval.answer_metrics import (
    bleu,
    cmrc_em,
    cmrc_f1,
    corpus_bleu_mixed,
    em_f1,
    metric_language,
    mixed_segmentation,
    normalize_answer,
    remove_punctuation,
    rouge_l,
    score_answers,
)
from ragtune.text import cjk_ratio, is_chinese

# --------------------------------------------------------------------------- language


def test_language_detection() -> None:
    assert is_chinese("红楼梦的作者是谁？")
    assert is_chinese("1998年")  # digits are not letters; 年 is the only letter/ideograph
    assert not is_chinese("The Eiffel Tower")
    assert cjk_ratio("ab红楼") == pytest.approx(0.5)
    assert cjk_ratio("1998") == 0.0


# --------------------------------------------------------------------------- English (SQuAD v1.1)


def test_english_articles_and_punctuation_exact_match() -> None:
    assert normalize_answer("The Eiffel Tower!") == "eiffel tower"
    assert em_f1("The Eiffel Tower!", ["eiffel tower"]) == (1.0, 1.0)


def test_english_punctuation_removed_before_articles() -> None:
    # "state-of-the-art" -> "stateoftheart": the article is glued on, so it survives, as in the script.
    assert normalize_answer("state-of-the-art") == "stateoftheart"
    assert normalize_answer("U.S.") == "us"
    assert em_f1("state of the art", ["state-of-the-art"]) == (0.0, 0.0)


def test_english_partial_f1() -> None:
    # "cat sat on mat" vs "cat on mat": overlap 3, P = 3/4, R = 1 -> F1 = 6/7
    em, f1 = em_f1("the cat sat on the mat", ["a cat on a mat"])
    assert em == 0.0
    assert f1 == pytest.approx(6 / 7)


def test_english_f1_counts_tokens_with_multiplicity() -> None:
    # Counter overlap: "paris" matched once; P = 1/2, R = 1 -> 2/3
    assert em_f1("Paris Paris", ["Paris"])[1] == pytest.approx(2 / 3)


def test_english_max_over_references() -> None:
    # vs "Obama": P=1/2, R=1 -> 2/3; vs "President Barack Obama": P=1, R=2/3 -> 0.8
    assert em_f1("Barack Obama", ["Obama", "President Barack Obama"]) == (0.0, pytest.approx(0.8))
    assert em_f1("Barack Obama", ["Obama", "barack obama."]) == (1.0, 1.0)


def test_empty_prediction_scores_zero() -> None:
    assert em_f1("", ["eiffel tower"]) == (0.0, 0.0)
    assert em_f1("", ["红楼梦"]) == (0.0, 0.0)


def test_no_reference_is_an_error() -> None:
    with pytest.raises(ValueError):
        em_f1("x", [])


# --------------------------------------------------------------------------- Chinese (CMRC 2018)


def test_chinese_fullwidth_punctuation_exact_match() -> None:
    assert remove_punctuation("《红楼梦》") == "红楼梦"
    assert em_f1("《红楼梦》", ["红楼梦"]) == (1.0, 1.0)


def test_chinese_em_keeps_inner_whitespace_but_f1_ignores_it() -> None:
    # remove_punctuation only strips the ends, so "红楼 梦" != "红楼梦"; segmentation drops the space.
    assert em_f1("红楼 梦", ["红楼梦"]) == (0.0, 1.0)


def test_chinese_partial_f1_via_lcs() -> None:
    # pred 9 chars 清华大学和北京大学, ref 北京大学, LCS 4: P = 4/9, R = 1 -> F1 = 8/13
    assert em_f1("清华大学和北京大学", ["北京大学"]) == (0.0, pytest.approx(8 / 13))


def test_chinese_f1_is_contiguous_lcs_not_bag_of_tokens() -> None:
    # Same four characters, but the longest common substring is only 2 long: P = R = 1/2 -> F1 = 1/2
    assert cmrc_f1("大学北京", "北京大学") == pytest.approx(0.5)


def test_mixed_segmentation_keeps_ascii_runs_together() -> None:
    assert mixed_segmentation("在1998年7月") == ["在", "1998", "年", "7", "月"]
    assert mixed_segmentation("iPhone 6手机") == ["iphone", "6", "手", "机"]
    # sp_char are skipped entirely with rm_punc (they do not split ASCII runs), kept as tokens otherwise
    assert mixed_segmentation("a-b", rm_punc=True) == ["ab"]
    assert mixed_segmentation("a-b") == ["a", "-", "b"]


def test_mixed_chinese_ascii_partial_f1() -> None:
    # [1998, 年] vs [1998, 年, 7, 月]: LCS 2, P = 1, R = 1/2 -> F1 = 2/3 (char-level would give 5/6)
    assert cmrc_f1("1998年", "1998年7月") == pytest.approx(2 / 3)
    assert cmrc_em("1998年", "1998年") == 1.0


def test_chinese_max_over_references() -> None:
    # vs 北京: P = 2/4, R = 1 -> 2/3; vs 北京大学: exact
    assert em_f1("北京大学", ["北京", "北京大学。"]) == (1.0, 1.0)
    assert em_f1("北京大学", ["北京", "清华"]) == (0.0, pytest.approx(2 / 3))


def test_lang_override() -> None:
    # SQuAD normalisation does not know full-width punctuation.
    assert em_f1("《红楼梦》", ["红楼梦"], lang="en") == (0.0, 0.0)
    # CMRC keeps "the": [the, eiffel, tower] vs [eiffel, tower], LCS 2, P = 2/3, R = 1 -> 0.8
    assert em_f1("The Eiffel Tower", ["eiffel tower"], lang="zh") == (0.0, pytest.approx(0.8))
    with pytest.raises(ValueError):
        em_f1("x", ["x"], lang="fr")


def test_chinese_question_with_number_or_latin_reference_gets_the_cmrc_metric() -> None:
    # A number or Latin reference looks English to a reference-based choice: the question decides.
    question = "该学校的总分是多少？"
    assert metric_language(question, ["308"]) == "zh"
    assert em_f1("308分", ["308"], metric_language(question, ["308"])) == (0.0, pytest.approx(2 / 3))
    # the old reference-based choice: SQuAD whitespace tokens, "308分" is one token that is not "308"
    assert em_f1("308分", ["308"]) == (0.0, 0.0)
    assert metric_language("华盛顿特区的英文缩写是什么？", ["DC"]) == "zh"
    assert em_f1("DC。", ["DC"], "zh") == (1.0, 1.0)


def test_metric_language_english_question_override_and_fallback() -> None:
    assert metric_language("Where is Beijing University?", ["北京"]) == "en"
    assert metric_language("该学校的总分是多少？", ["308"], override="en") == "en"
    assert metric_language("Where?", ["x"], override="zh") == "zh"
    # no question: the references decide, as before
    assert metric_language(None, ["北京大学"]) == "zh"
    assert metric_language("", ["308"]) == "en"
    with pytest.raises(ValueError):
        metric_language("q", ["x"], override="fr")


# --------------------------------------------------------------------------- BLEU


def test_bleu_identical_is_100() -> None:
    assert bleu(["the cat sat on the mat"], [["the cat sat on the mat"]], "en") == pytest.approx(100.0)


def test_bleu_hand_value_english() -> None:
    # p1..p4 = 5/6, 3/5, 2/4, 1/3, BP = 1 -> (1/12) ** 0.25
    score = bleu(["the cat sat on the mat"], [["the cat sat on a mat"]], "en")
    assert score == pytest.approx(100 * (1 / 12) ** 0.25)


def test_bleu_zh_tokenization() -> None:
    # With 'zh' each character is a token; 13a sees one token, so no n-gram above 1 and BLEU 0.
    assert bleu(["我爱北京天安门"], [["我爱北京天安门"]], "zh") == pytest.approx(100.0)
    assert bleu(["我爱北京天安门"], [["我爱北京天安门"]], "en") == pytest.approx(0.0)
    # all precisions 1, hyp 4 tokens vs ref 8 (我爱北京天安门。) -> BP = exp(1 - 8/4)
    assert bleu(["我爱北京"], [["我爱北京天安门。"]], "zh") == pytest.approx(100 * math.exp(-1))


def test_bleu_multiple_references_padded() -> None:
    preds = ["the cat sat on the mat", "a dog ran in the park"]
    refs = [["the cat sat on the mat"], ["some other words entirely here", "a dog ran in the park"]]
    assert bleu(preds, refs, "en") == pytest.approx(100.0)
    assert bleu(preds, [r[:1] for r in refs], "en") < 60


def test_corpus_bleu_mixed_weights_by_group_size() -> None:
    preds = ["the cat sat on the mat", "a dog ran in the park", "我爱北京"]
    refs = [["the cat sat on the mat"], ["a dog ran in the park"], ["我爱北京天安门。"]]
    expected = (2 * 100 + 1 * 100 * math.exp(-1)) / 3
    assert corpus_bleu_mixed(preds, refs, ["en", "en", "zh"]) == pytest.approx(expected)


# --------------------------------------------------------------------------- ROUGE-L


def test_rouge_l_chinese_character_level() -> None:
    # chars 北京大学的学生 (7) vs 北京的大学 (5): LCS 4 -> P = 4/7, R = 4/5 -> F = 2/3; punctuation ignored
    assert rouge_l("北京大学的学生。", ["北京的大学！"]) == pytest.approx(2 / 3)
    assert rouge_l("北京 大学的学生", ["北京的大学"]) == pytest.approx(2 / 3)


def test_rouge_l_english_and_max_over_references() -> None:
    # the cat sat on the mat vs the cat is on the mat: LCS 5 of 6 each -> 5/6
    assert rouge_l("the cat sat on the mat", ["the cat is on the mat"]) == pytest.approx(5 / 6)
    assert rouge_l("the cat sat on the mat", ["dogs", "the cat is on the mat"]) == pytest.approx(5 / 6)


# --------------------------------------------------------------------------- score_answers


def test_score_answers_per_language_of() -> None:
    preds = ["the cat sat on the mat", "我爱北京"]
    refs = [["the cat sat on a mat"], ["我爱北京天安门。"]]
    scores = score_answers(preds, refs)
    # q1 (en): articles normalised away -> EM 1, F1 1; ROUGE-L 5/6; BLEU 100 * (1/12) ** 0.25
    # q2 (zh): EM 0; F1 = ROUGE-L = 8/11 (LCS 4, P = 1, R = 4/7); BLEU 100 * exp(-1)
    assert scores["em"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(100 * (1 + 8 / 11) / 2)
    assert scores["rouge_l"] == pytest.approx(100 * (5 / 6 + 8 / 11) / 2)
    assert scores["bleu"] == pytest.approx((100 * (1 / 12) ** 0.25 + 100 * math.exp(-1)) / 2)


def test_score_answers_takes_per_question_languages() -> None:
    # "308分" vs "308": zh -> F1 2/3, en -> 0 (the reference-based default)
    assert score_answers(["308分"], [["308"]], ["zh"])["f1"] == pytest.approx(100 * 2 / 3)
    assert score_answers(["308分"], [["308"]])["f1"] == 0.0
    with pytest.raises(ValueError):
        score_answers(["a"], [["a"]], ["zh", "en"])


def test_score_answers_empty() -> None:
    assert score_answers([], []) == {"em": 0.0, "f1": 0.0, "bleu": 0.0, "rouge_l": 0.0}
