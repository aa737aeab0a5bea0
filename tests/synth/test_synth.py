"""`ragtune synth`: parsing and filtering of generated pairs, and a real run on the demo corpus."""

from __future__ import annotations

import random
from collections import Counter

from ragtune.config import SynthConfig
from ragtune.index.store import Passage
from ragtune.read.questions import load_questions
from ragtune.synth.answer_spans import Span, answer_spans
from ragtune.synth.pairs import (
    SYSTEM,
    SYSTEM_QUESTION,
    SynthPair,
    SynthTask,
    candidate_passages,
    parse_pair,
    rejection,
    roundtrip,
    synth_task,
    synthesise,
    write_pairs,
)

EN = "The Eiffel Tower is a wrought-iron tower in Paris. It was completed in 1889 for the World's Fair."
ZH = "长城位于中国北方，总长度约21196千米。它是世界上最长的人造建筑。"
CFG = SynthConfig()
ANSWER_FIRST = SynthConfig(answer_first=True)


def test_parse_pair_reads_both_languages_and_strips_edge_punctuation():
    assert parse_pair("Question: When was it built?\nAnswer: 1889.") == ("When was it built?", "1889")
    assert parse_pair("问题：长城有多长？\n答案：约21196千米。") == ("长城有多长？", "约21196千米")


def test_parse_pair_rejects_missing_or_empty_parts():
    assert parse_pair("Question: When was it built?") is None
    assert parse_pair("Answer: 1889") is None
    assert parse_pair("Question: When?\nAnswer: ...") is None


def test_answer_first_task_asks_only_for_a_question_about_a_picked_span():
    passage = Passage("wall", 0, "长城", ZH, "x")
    task = synth_task(passage, random.Random(0), ANSWER_FIRST)
    assert task.answer in [span.text for span in answer_spans(ZH, "zh", ANSWER_FIRST.max_answer_units)]
    assert task.messages[0]["content"] == SYSTEM_QUESTION["zh"]
    assert task.messages[-1]["content"].endswith(f"答案: {task.answer}")
    assert task.parse("问题：它在哪里？") == ("它在哪里？", task.answer)
    assert task.parse("它在哪里？\n") == ("它在哪里？", task.answer)  # no label: the first line
    assert task.parse("  \n") is None


def test_a_cloze_question_stands_in_when_the_models_question_fails_the_filters():
    passage = Passage("tower", 0, "Eiffel Tower", EN, "x")
    task = synth_task(passage, random.Random(0), ANSWER_FIRST)
    assert task.answer and task.cloze and task.answer not in task.cloze and task.cloze.endswith("?")
    asked = "Which structure is meant?"
    good, reason = task.choose(f"Question: {asked}", ANSWER_FIRST, set())
    assert (good.question, good.answer, good.source, reason) == (asked, task.answer, "model", None)
    echo = [s for s in EN.split(". ") if task.answer in s][0]  # the model copied the sentence: no question
    stand_in, reason = task.choose(f"Question: {echo}", ANSWER_FIRST, set())
    assert (stand_in.question, stand_in.answer, stand_in.source) == (task.cloze, task.answer, "cloze")
    assert reason in {"not a question", "answer in question"}  # counted, though a pair is kept
    assert task.choose(f"Question: {asked}", ANSWER_FIRST, {asked.lower()}) == (stand_in, "duplicate")
    year = SynthTask(passage, [], Span("1889", "date"), "In what year was the Eiffel Tower completed?")
    assert year.choose("Question: Who built the tower?", ANSWER_FIRST, set()) == (
        SynthPair(year.cloze, "1889", passage, "cloze"), "asks for another kind of answer")
    off = synth_task(passage, random.Random(0), ANSWER_FIRST.model_copy(update={"cloze_fallback": False}))
    assert off.cloze is None and off.choose(f"Question: {echo}", ANSWER_FIRST, set())[0] is None


def test_question_and_answer_are_asked_for_by_default_or_without_a_span():
    plain = Passage("idea", 0, "", "the idea was rejected by everyone who took part in the long debate.", "x")
    task = synth_task(plain, random.Random(0), ANSWER_FIRST)
    assert task.answer is None and task.messages[0]["content"] == SYSTEM["en"]
    assert task.parse("Question: Who rejected the idea?") is None  # no answer line
    assert task.parse("Question: Who rejected the idea?\nAnswer: everyone") == ("Who rejected the idea?", "everyone")
    default = synth_task(Passage("wall", 0, "长城", ZH, "x"), random.Random(0), CFG)
    assert default.answer is None and default.cloze is None and default.messages[0]["content"] == SYSTEM["zh"]


def test_span_and_close_paraphrase_answers_are_kept():
    assert rejection("In what year was the Eiffel Tower completed?", "1889", EN, CFG) is None
    assert rejection("长城的总长度约是多少？", "约21196千米", ZH, CFG) is None
    # not verbatim (case, word order) but every word is in the passage
    assert rejection("What is the Eiffel Tower made of?", "Wrought-iron", EN, CFG) is None


def test_filters_name_why_a_pair_is_dropped():
    assert rejection("Where is the tower?", "in the city of London", EN, CFG) == "answer not in passage"
    assert rejection("When was the tower in Paris completed in 1889?", "1889", EN, CFG) == "answer in question"
    assert rejection("长城在哪里？", "Paris", EN, CFG) == "wrong language"
    long_answer = " ".join(["word"] * (CFG.max_answer_units + 1))
    assert rejection("What is said about the tower?", long_answer, EN + " " + long_answer, CFG) == "long answer"
    assert rejection("When?", "1889", EN, CFG) == "short question"
    assert rejection("The tower was completed in some year.", "1889", EN, CFG) == "not a question"
    # every unit of the answer is in the question, though not as one substring
    assert rejection("Did work on the tower run through 1887, 1888 and 1889?", "1887, 1888, 1889",
                     EN + " Work ran in 1887, 1888, 1889.", CFG) == "answer in question"


def _passage(doc: str, chunk: int, units: int = 60) -> Passage:
    return Passage(doc, chunk, "", " ".join(f"w{i}" for i in range(units)), "x")


def test_candidates_visit_every_document_before_any_twice_and_skip_short_passages():
    passages = [_passage(d, c) for d in "abc" for c in range(3)] + [_passage("tiny", 0, units=5)]
    order = candidate_passages(passages, CFG)
    assert len(order) == 9
    assert {p.id for p in order[:3]} == {"a", "b", "c"}
    assert order == candidate_passages(passages, CFG)  # seeded
    assert order != candidate_passages(passages, CFG.model_copy(update={"seed": 1}))


def test_roundtrip_keeps_only_questions_that_find_their_source(demo_pipeline):
    passages = list(demo_pipeline.store.passages)
    a, b = passages[0], next(p for p in passages if p.id != passages[0].id)
    own = SynthPair(a.text[:80], "x", a)
    stolen = SynthPair(b.text[:80], "x", a)  # b's words, claimed to come from a
    rejected: Counter = Counter()
    kept = roundtrip(demo_pipeline, [own, stolen], 1, rejected)
    assert kept == [own]
    assert rejected["round trip"] == 1


def test_synthesise_on_the_demo_corpus_writes_pairs_training_can_read(demo_pipeline, tmp_path):
    report = synthesise(demo_pipeline, n=3, progress=False)
    assert report.generated >= len(report.kept)
    assert report.kept, f"nothing survived the filters: {report.rejected}"
    for pair in report.kept:
        assert rejection(pair.question, pair.answer, pair.passage.text, CFG) is None
        top = demo_pipeline.retriever.retrieve(pair.question, CFG.roundtrip_k)
        assert pair.passage.id in {r.passage.id for r in top}
    path = write_pairs(report.kept, tmp_path / "qa.jsonl")
    questions = load_questions(path, answered=True)
    assert [(q.text, q.answers[0], q.gold_id) for q in questions] == [
        (p.question, p.answer, p.passage.id) for p in report.kept]
