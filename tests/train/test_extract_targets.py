"""Extraction training targets: a sentence's gold triples written in reading order (or as the data lists them)."""

from __future__ import annotations

import json

from datafiles import SHARED

from ragtune.config import Config
from ragtune.read.triples import Triple, load_triples
from ragtune.train.extract import extract_examples, in_text_order

DUIE = SHARED / "kg" / "duie2-dev-1000.jsonl"


def test_triples_sort_by_where_subject_then_object_appear():
    triples = [Triple("Bo", "p", "x"), Triple("Al", "p", "yy"), Triple("Nobody", "p", "q"), Triple("Al", "p", "c")]
    ordered = in_text_order(triples, "Al met bo; c and yy")  # case folded; a name not in the text goes last
    assert [(t.subject, t.object) for t in ordered] == [("Al", "c"), ("Al", "yy"), ("Bo", "x"), ("Nobody", "q")]


def test_duie_targets_follow_the_sentence_unless_told_to_keep_the_data_order(tmp_path):
    """A real DuIE sentence whose data lists its triples out of reading order."""
    for line in DUIE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        spots = [(row["text"].find(s["subject"]), row["text"].find(s["object"]["@value"])) for s in row["spo_list"]]
        if len(spots) > 1 and min(min(spot) for spot in spots) >= 0 and spots != sorted(spots):
            break
    path = tmp_path / "one.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    example = load_triples(path)[0]

    def target_rows(order: str) -> list[list[str]]:
        target = extract_examples([example], Config(extract={"target_order": order}), None)[0].target
        return [json.loads(row) for row in target.splitlines()]

    text_order = target_rows("text")
    assert [row[0] for row in text_order] == sorted((row[0] for row in text_order), key=example.text.find)
    assert text_order != target_rows("given")
    assert sorted(map(tuple, text_order)) == sorted(map(tuple, target_rows("given")))
