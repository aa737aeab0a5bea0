"""Triple P/R/F1 on hand-made triples: exact and entity-normalised match, micro-averaged over texts."""

from __future__ import annotations

import pytest

from ragtune.eval.triples import match_counts, triple_scores
from ragtune.graph.triples import Triple

T = Triple


def test_exact_and_normalised_counts():
    gold = [T("Abilene Regional Airport", "cityServed", "Abilene, Texas"), T("Texas", "capital", "Austin")]
    predicted = [T("Abilene_Regional_Airport", "city served", "Abilene,_Texas"), T("Texas", "capital", "Austin"),
                 T("Texas", "capital", "Austin"), T("Texas", "largestCity", "Houston")]
    assert match_counts(predicted, gold) == (1, 3, 2)  # the duplicate counts once
    assert match_counts(predicted, gold, normalised=True) == (2, 3, 2)


def test_direction_and_predicate_matter():
    gold = [T("步步惊心", "作者", "桐华")]
    assert match_counts([T("桐华", "作者", "步步惊心")], gold, normalised=True)[0] == 0
    assert match_counts([T("步步惊心", "编剧", "桐华")], gold, normalised=True)[0] == 0
    assert match_counts([T("《步步惊心》", "作者", "桐华")], gold) == (0, 1, 1)
    assert match_counts([T("《步步惊心》", "作者", "桐华")], gold, normalised=True) == (1, 1, 1)


def test_micro_average_over_texts():
    gold = [[T("a", "p", "b"), T("c", "p", "d"), T("e", "p", "f")], [T("x", "q", "y")]]
    predicted = [[T("a", "p", "b"), T("c", "p", "z")], []]
    scores = triple_scores(predicted, gold)
    # 1 right of 2 predicted, of 4 gold: P 50, R 25, F1 33.33 (a macro mean would give R 16.67)
    assert scores["precision"] == 50.0 and scores["recall"] == 25.0 and scores["f1"] == pytest.approx(33.33)
    assert scores["f1_norm"] == scores["f1"]


def test_nothing_predicted_or_nothing_gold_is_zero_not_an_error():
    assert triple_scores([[]], [[T("a", "p", "b")]]) == dict.fromkeys(
        ("precision", "recall", "f1", "precision_norm", "recall_norm", "f1_norm"), 0.0)
    assert triple_scores([[T("a", "p", "b")]], [[]])["precision"] == 0.0
    assert triple_scores([], [])["f1"] == 0.0


def test_perfect_prediction_is_100():
    gold = [[T("Alan Bean", "birthPlace", "Wheeler, Texas")]]
    assert set(triple_scores(gold, gold).values()) == {100.0}
