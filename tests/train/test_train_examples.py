"""The RAFT example builder: gold kept or removed by probability, ask's prompt, cited targets, seeded shuffles."""

from __future__ import annotations

import pytest

from ragtune.generate.prompt import IDK, build_messages
from ragtune.index.store import Passage
from ragtune.read.questions import Question
from ragtune.train.batches import length_plan
from ragtune.train.examples import (
    build_examples,
    find_gold,
    keep_short_answers,
    split_questions,
)


def make_question(qid: str, text: str, answers: list[str], gold: str | None = None) -> Question:
    return Question(qid, text, tuple(answers), {gold: 1} if gold else {})


def passage(pid: str, text: str, chunk: int = 0) -> Passage:
    return Passage(id=pid, chunk=chunk, title=pid.upper(), text=text, source="s")


GOLD = passage("gold", "Kublai was a grandson of Genghis Khan and ruled China.")
DISTRACTORS = [passage(f"d{i}", f"Distractor number {i} about something else.") for i in range(6)]
QUESTION = make_question("q1", "Who was Kublai Khan's grandfather?", ["Genghis Khan"], "gold")
ZH = make_question("q2", "忽必烈的祖父是谁？", ["成吉思汗"], "gold-zh")
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
    assert example.messages() == build_messages(QUESTION.text, example.passages, 320)


def test_shuffle_is_deterministic_by_seed():
    ranked = [[GOLD, *DISTRACTORS]]
    orders = {seed: build([QUESTION], ranked, 1.0, seed, k=5)[0].passage_ids for seed in range(8)}
    assert orders == {seed: build([QUESTION], ranked, 1.0, seed, k=5)[0].passage_ids for seed in range(8)}
    assert len({tuple(o) for o in orders.values()}) > 1
    positions = {build([QUESTION], ranked, 1.0, seed, k=5)[0].gold_position for seed in range(20)}
    assert len(positions) > 2  # the gold does not sit where retrieval put it


def test_gold_probability_is_a_rate():
    questions = [make_question(f"q{i}", QUESTION.text, QUESTION.answers, "gold") for i in range(400)]
    examples = build(questions, [[GOLD, *DISTRACTORS]] * 400, 0.8)
    share = sum(e.gold_position is not None for e in examples) / 400
    assert 0.72 < share < 0.88


def test_jsonl_gold_is_the_top_retrieved_passage_with_the_answer():
    question = make_question("j", QUESTION.text, ["genghis khan"])
    second = passage("other", "Genghis Khan was born around 1162.")
    assert find_gold(question, [DISTRACTORS[0], second, GOLD]) is second
    assert find_gold(question, DISTRACTORS) is None
    assert build([question], [DISTRACTORS], 1.0) == []  # no gold anywhere: left out


def test_gold_chunk_is_the_one_holding_the_answer():
    chunks = [passage("doc", "Intro without it.", 0), passage("doc", "Here is Genghis Khan.", 1)]
    question = make_question("c", QUESTION.text, ["Genghis Khan"], "doc")
    assert find_gold(question, DISTRACTORS, {"doc": chunks}) is chunks[1]


def test_long_answers_are_dropped_and_questions_with_none_left_skipped():
    long_en = "the grandson of Genghis Khan who became the first emperor of the Yuan dynasty"  # 14 words
    zh = make_question("zh", "谁？", ["元朝的第一位皇帝忽必烈"], "g")  # 11 characters
    why = make_question("x", "Why", ["because the harvest had failed three years in a row and the granaries were bare"])
    questions = [make_question("en", "Who?", [long_en, "Kublai"], "g"), zh, why]
    assert keep_short_answers(questions, 11) == [make_question("en", "Who?", ["Kublai"], "g"), zh]
    assert [q.id for q in keep_short_answers(questions, 10)] == ["en"]
    assert keep_short_answers(questions, None) == questions


def test_split_is_seeded_and_disjoint():
    questions = [make_question(str(i), f"q{i}?", ["a"]) for i in range(30)]
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
