"""The RAFT example builder: gold kept or removed by probability, ask's prompt, cited targets, seeded shuffles."""

from __future__ import annotations

import json

import pytest

from ragtune.errors import LoadError
from ragtune.generate.prompt import IDK, build_messages
from ragtune.index.store import Passage
from ragtune.train.batches import length_plan
from ragtune.train.examples import (
    TrainQuestion,
    build_examples,
    find_gold,
    keep_short_answers,
    load_train_questions,
    split_questions,
)


def passage(pid: str, text: str, chunk: int = 0) -> Passage:
    return Passage(id=pid, chunk=chunk, title=pid.upper(), text=text, source="s")


GOLD = passage("gold", "Kublai was a grandson of Genghis Khan and ruled China.")
DISTRACTORS = [passage(f"d{i}", f"Distractor number {i} about something else.") for i in range(6)]
QUESTION = TrainQuestion("q1", "Who was Kublai Khan's grandfather?", ["Genghis Khan"], "gold")
ZH = TrainQuestion("q2", "忽必烈的祖父是谁？", ["成吉思汗"], "gold-zh")
GOLD_ZH = passage("gold-zh", "忽必烈是成吉思汗的孙子。")


def build(questions, retrieved, p, seed=0, k=3, by_id=None, no_gold_target="answer"):
    return build_examples(questions, retrieved, k=k, gold_probability=p, seed=seed, max_units=320,
                          passages_by_id=by_id, no_gold_target=no_gold_target)


@pytest.mark.parametrize("seed", range(5))
def test_gold_kept_with_p1_is_cited_at_its_position(seed):
    (example,) = build([QUESTION], [[DISTRACTORS[0], GOLD, *DISTRACTORS[1:]]], 1.0, seed)
    assert len(example.passages) == 3 and "gold" in example.passage_ids
    n = example.gold_position
    assert example.passages[n - 1] == (GOLD.title, GOLD.text)
    assert example.target == f"Genghis Khan [{n}]"
    # the other two are the best-ranked distractors
    assert set(example.passage_ids) == {"gold", "d0", "d1"}


def test_gold_not_retrieved_replaces_the_last_distractor():
    (example,) = build([QUESTION], [DISTRACTORS], 1.0, by_id={"gold": [GOLD]})
    assert set(example.passage_ids) == {"d0", "d1", "gold"}


@pytest.mark.parametrize("seed", range(5))
def test_gold_removed_with_p0_still_teaches_the_answer_uncited(seed):
    also_has_answer = passage("dup", "Genghis Khan founded the Mongol Empire.")
    ranked = [GOLD, also_has_answer, *DISTRACTORS]
    (example,) = build([QUESTION], [ranked], 0.0, seed)
    assert example.gold_position is None and example.target == "Genghis Khan"
    assert set(example.passage_ids) == {"d0", "d1", "d2"}  # no passage that holds the answer


@pytest.mark.parametrize("seed", range(5))
def test_gold_removed_with_p0_and_idk_target_gives_idk(seed):
    also_has_answer = passage("dup", "Genghis Khan founded the Mongol Empire.")
    ranked = [GOLD, also_has_answer, *DISTRACTORS]
    (example,) = build([QUESTION], [ranked], 0.0, seed, no_gold_target="idk")
    assert example.gold_position is None and example.target == IDK["en"]
    assert set(example.passage_ids) == {"d0", "d1", "d2"}
    (zh,) = build([ZH], [[GOLD_ZH, *DISTRACTORS]], 0.0, seed, no_gold_target="idk")
    assert zh.target == IDK["zh"] == "我不知道"


def test_messages_are_asks_prompt():
    (example,) = build([QUESTION], [[GOLD, *DISTRACTORS]], 1.0)
    assert example.messages() == build_messages(QUESTION.question, example.passages, 320)


def test_shuffle_is_deterministic_by_seed():
    ranked = [[GOLD, *DISTRACTORS]]
    orders = {seed: build([QUESTION], ranked, 1.0, seed, k=5)[0].passage_ids for seed in range(8)}
    assert orders == {seed: build([QUESTION], ranked, 1.0, seed, k=5)[0].passage_ids for seed in range(8)}
    assert len({tuple(o) for o in orders.values()}) > 1
    positions = {build([QUESTION], ranked, 1.0, seed, k=5)[0].gold_position for seed in range(20)}
    assert len(positions) > 2  # the gold does not sit where retrieval put it


def test_gold_probability_is_a_rate():
    questions = [TrainQuestion(f"q{i}", QUESTION.question, QUESTION.answers, "gold") for i in range(400)]
    examples = build(questions, [[GOLD, *DISTRACTORS]] * 400, 0.8)
    share = sum(e.gold_position is not None for e in examples) / 400
    assert 0.72 < share < 0.88


def test_jsonl_gold_is_the_top_retrieved_passage_with_the_answer():
    question = TrainQuestion("j", QUESTION.question, ["genghis khan"])
    second = passage("other", "Genghis Khan was born around 1162.")
    assert find_gold(question, [DISTRACTORS[0], second, GOLD]) is second
    assert find_gold(question, DISTRACTORS) is None
    assert build([question], [DISTRACTORS], 1.0) == []  # no gold anywhere: left out


def test_gold_chunk_is_the_one_holding_the_answer():
    chunks = [passage("doc", "Intro without it.", 0), passage("doc", "Here is Genghis Khan.", 1)]
    question = TrainQuestion("c", QUESTION.question, ["Genghis Khan"], "doc")
    assert find_gold(question, DISTRACTORS, {"doc": chunks}) is chunks[1]


def test_load_jsonl_and_squad(tmp_path):
    path = tmp_path / "qa.jsonl"
    rows = [{"question": "Q1?", "answer": "A1"}, {"question": "Q2?", "answers": ["A2", "B2"], "id": "x"},
            {"question": "Q3?", "answer": ""}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    questions = load_train_questions(path)
    assert [(q.id, q.answers, q.gold_id) for q in questions] == [("qa-1", ["A1"], None), ("x", ["A2", "B2"], None)]
    path.write_text('{"question": 3}\n', encoding="utf-8")
    with pytest.raises(LoadError, match="line 1"):
        load_train_questions(path)
    squad = tmp_path / "s.json"
    squad.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [
        {"context": "c", "qas": [{"id": "a", "question": "q?", "answers": [{"text": "c"}]}]}]}]}))
    assert load_train_questions(squad) == [TrainQuestion("a", "q?", ["c"], "s-0-0")]


def test_long_answers_are_dropped_and_questions_with_none_left_skipped():
    long_en = "the grandson of Genghis Khan who became the first emperor of the Yuan dynasty"  # 14 words
    zh = TrainQuestion("zh", "谁？", ["元朝的第一位皇帝忽必烈"], "g")  # 11 characters
    why = TrainQuestion("x", "Why", ["because the harvest had failed three years in a row and the granaries were bare"])
    questions = [TrainQuestion("en", "Who?", [long_en, "Kublai"], "g"), zh, why]
    assert keep_short_answers(questions, 11) == [TrainQuestion("en", "Who?", ["Kublai"], "g"), zh]
    assert [q.id for q in keep_short_answers(questions, 10)] == ["en"]
    assert keep_short_answers(questions, None) == questions


def test_split_is_seeded_and_disjoint():
    questions = [TrainQuestion(str(i), f"q{i}?", ["a"]) for i in range(30)]
    train, held = split_questions(questions, fraction=0.1, size=None, seed=1)
    assert len(held) == 3 and len(train) == 27 and not {q.id for q in train} & {q.id for q in held}
    assert split_questions(questions, fraction=0.1, size=None, seed=1) == (train, held)
    assert len(split_questions(questions, fraction=0.1, size=5, seed=1)[1]) == 5
    assert split_questions(questions[:1], fraction=0.5, size=None, seed=1) == (questions[:1], [])


def test_length_plan_covers_each_example_once_sorted_in_buckets():
    lengths = [50, 10, 40, 30, 20, 60, 70, 5, 15]
    plan = length_plan(lengths, batch_size=2, bucket_batches=2, seed=0, epoch=0)
    assert sorted(i for batch in plan for i in batch) == list(range(9))
    assert all(lengths[b[0]] <= lengths[b[-1]] for b in plan)
    assert plan == length_plan(lengths, 2, 2, seed=0, epoch=0) != length_plan(lengths, 2, 2, seed=0, epoch=1)
