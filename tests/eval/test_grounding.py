"""Grounding share, abstention detection and their aggregate."""

from __future__ import annotations

import pytest

from ragtune.eval.grounding import GROUNDING_THRESHOLD, grounding_stats, is_abstention, is_grounded

EN_PASSAGE = "The Eiffel Tower, completed in 1889, stands in Paris."
ZH_PASSAGE = "《红楼梦》由曹雪芹创作。"


def test_threshold_constant() -> None:
    assert GROUNDING_THRESHOLD == 0.8


def test_english_grounded_ignores_stopwords_and_case() -> None:
    # content tokens: eiffel, tower, completed, 1889 -> all cited
    assert is_grounded("The Eiffel Tower was completed in 1889.", [EN_PASSAGE])
    # "it", "was" are not in the passage but are stopwords; counted they would give 3/5
    assert is_grounded("It was the EIFFEL tower", [EN_PASSAGE])


def test_english_threshold_boundary() -> None:
    assert is_grounded("Eiffel Tower completed 1889 Gustave", [EN_PASSAGE])  # 4/5 = 0.8
    assert not is_grounded("Eiffel Tower completed Gustave", [EN_PASSAGE])  # 3/4
    # eiffel tower completed 1889 gustave eiffel engineers: 5/7
    assert not is_grounded("Eiffel Tower completed 1889 by Gustave Eiffel engineers", [EN_PASSAGE])


def test_any_cited_passage_counts() -> None:
    assert is_grounded("Eiffel Tower completed Gustave", [EN_PASSAGE, "Gustave Eiffel's company"])


def test_no_citation_is_not_grounded() -> None:
    assert not is_grounded("The Eiffel Tower was completed in 1889.", [])
    assert not is_grounded("", [EN_PASSAGE])


def test_chinese_character_level() -> None:
    # 曹雪芹创作了红楼梦: 8 of 9 characters cited (了 is not) -> 0.89
    assert is_grounded("曹雪芹创作了红楼梦。", [ZH_PASSAGE])
    # 红楼梦的作者是曹雪芹: 6 of 10 -> 0.6
    assert not is_grounded("红楼梦的作者是曹雪芹。", [ZH_PASSAGE])


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know.",
        "I do not know the answer.",
        "Sorry, I cannot answer that from the given passages.",
        "The answer is not in the context.",
        "This is not mentioned in the provided documents.",
        "The context does not mention his birthday.",
        "我不知道。",
        "根据上下文无法回答该问题。",
        "文中没有提到这一点。",
        "资料未提及。",
        "不知道",
    ],
)
def test_abstentions(answer: str) -> None:
    assert is_abstention(answer)


@pytest.mark.parametrize(
    "answer", ["The tower was completed in 1889.", "红楼梦的作者是曹雪芹。", "Known unknowns."]
)
def test_non_abstentions(answer: str) -> None:
    assert not is_abstention(answer)


def test_grounding_stats_over_non_abstaining_answers() -> None:
    answers = [
        "Eiffel Tower completed 1889",  # grounded
        "I don't know.",  # abstains
        "Gustave Eiffel designed bridges",  # 1/4 cited -> not grounded
        "无法回答",  # abstains
        "曹雪芹创作了红楼梦",  # grounded
    ]
    cited = [[EN_PASSAGE], [], [EN_PASSAGE], [], [ZH_PASSAGE]]
    stats = grounding_stats(answers, cited)
    assert stats["abstained"] == pytest.approx(40.0)
    assert stats["grounded"] == pytest.approx(200 / 3)


def test_grounding_stats_edge_cases() -> None:
    assert grounding_stats([], []) == {"grounded": 0.0, "abstained": 0.0}
    assert grounding_stats(["I don't know"], [[]]) == {"grounded": 0.0, "abstained": 100.0}
