"""HotpotQA and MuSiQue files (real samples from ../shared) load as passages keyed by title and as questions whose
gold passages are all their supporting paragraphs; bad files are one LoadError naming the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from datafiles import (
    HOTPOTQA_DEV,
    HOTPOTQA_TRAIN,
    HOTPOTQA_TRAIN_CORPUS,
    MUSIQUE_TRAIN,
    MUSIQUE_TRAIN_CORPUS,
    jsonl_head,
)

from ragtune.errors import LoadError
from ragtune.read.loaders import loader_for
from ragtune.read.questions import load_questions


def documents(path: Path):
    return loader_for(path).load(path, path.name)


def test_hotpotqa_json_lines_and_json_list_give_the_same_passages_and_questions(tmp_path):
    lines = jsonl_head(HOTPOTQA_DEV, tmp_path / "dev3.jsonl", 3)
    records = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    as_list = tmp_path / "dev3.json"
    as_list.write_text(json.dumps(records + records[:1]), encoding="utf-8")  # a repeated question: pooled once
    docs = documents(lines)
    assert [(d.id, d.title, d.text) for d in docs] == [(d.id, d.title, d.text) for d in documents(as_list)]
    titles = list(dict.fromkeys(title for r in records for title, _ in r["context"]))
    assert [d.id for d in docs] == titles  # the paragraph's title is its id
    first = next(d for d in docs if d.id == records[0]["context"][0][0])
    assert first.text == "".join(records[0]["context"][0][1])

    questions = load_questions(lines)
    assert [q.id for q in questions] == [r["_id"] for r in records]
    q = questions[0]
    assert q.text == records[0]["question"] and q.answers == (records[0]["answer"],)
    assert q.all_required and set(q.qrels) == {t for t, _ in records[0]["supporting_facts"]} == {
        "VIVA Media", "Gesellschaft mit beschränkter Haftung"}
    assert len(load_questions(as_list)) == 4


def test_kag_hotpotqa_question_file_and_corpus_file_index_the_same_passages():
    from_questions = {d.id: d.text for d in documents(HOTPOTQA_TRAIN)}
    from_corpus = {d.id: d.text for d in documents(HOTPOTQA_TRAIN_CORPUS)}
    assert from_questions == from_corpus and len(from_corpus) == 994
    questions = load_questions(HOTPOTQA_TRAIN)
    assert len(questions) == 100 and all(q.all_required and len(q.qrels) == 2 for q in questions)
    assert all(pid in from_corpus for q in questions for pid in q.qrels)
    with pytest.raises(LoadError, match="passages only"):
        load_questions(HOTPOTQA_TRAIN_CORPUS)


def test_musique_shared_titles_get_stable_ids_and_gold_is_every_supporting_paragraph():
    docs = documents(MUSIQUE_TRAIN)
    assert len(docs) == 1890 and len({d.id for d in docs}) == 1890
    # KAG's corpus file lists the same paragraphs in the same order: the same id for each
    assert {d.id: d.text for d in docs} == {d.id: d.text for d in documents(MUSIQUE_TRAIN_CORPUS)}
    publix = [d for d in docs if d.title == "Publix"]
    assert len(publix) > 1 and publix[0].id == "Publix"  # first in file order keeps the bare title
    for doc in publix[1:]:
        assert doc.id == f"Publix [{hashlib.sha1(doc.text.encode()).hexdigest()[:8]}]"

    raw = json.loads(MUSIQUE_TRAIN.read_text(encoding="utf-8"))
    questions = load_questions(MUSIQUE_TRAIN)
    assert len(questions) == 100
    by_text = {(d.title, d.text): d.id for d in docs}
    for record, question in zip(raw, questions, strict=True):
        gold = {by_text[p["title"], p["paragraph_text"]] for p in record["paragraphs"] if p["is_supporting"]}
        assert question.all_required and set(question.qrels) == gold and len(gold) >= 2
        assert question.answers[0] == record["answer"] and set(record["answer_aliases"]) <= set(question.answers)


def _bad_files(root: Path) -> dict[str, tuple[Path, str]]:
    record = json.loads(HOTPOTQA_DEV.open(encoding="utf-8").readline())
    musique = json.loads(MUSIQUE_TRAIN.read_text(encoding="utf-8"))[0]
    cases = {
        "context not a list": ([{**record, "context": "text"}], '"context" and "supporting_facts" must be arrays'),
        "sentences not strings": ([{**record, "context": [["T", [1, 2]]]}], "sentences must be an array of strings"),
        "gold outside context": ([{**record, "supporting_facts": [["Nowhere", 0]]}], "'Nowhere' is not among"),
        "answer missing": ([{k: v for k, v in record.items() if k != "answer"}], '"answer" must be a string'),
        "no supporting": ([{**musique, "paragraphs": [{**p, "is_supporting": False} for p in musique["paragraphs"]]}],
                          "no paragraph has is_supporting"),
        "paragraph text": ([{**musique, "paragraphs": [{"title": "T", "paragraph_text": None}]}],
                           '"paragraph_text" must be a string'),
    }
    files = {}
    for n, (name, (rows, message)) in enumerate(cases.items()):
        path = root / f"bad{n}.json"
        path.write_text(json.dumps(rows), encoding="utf-8")
        files[name] = (path, message)
    return files


def test_bad_multihop_files_are_one_line_naming_the_file(tmp_path):
    for name, (path, message) in _bad_files(tmp_path).items():
        for load in (documents, load_questions):
            with pytest.raises(LoadError) as info:
                load(path)
            text = str(info.value)
            assert message in text and "\n" not in text and text.startswith(str(path)), name


def test_unanswerable_musique_questions_are_left_out_but_their_paragraphs_indexed(tmp_path):
    records = json.loads(MUSIQUE_TRAIN.read_text(encoding="utf-8"))[:2]
    records[0] = {**records[0], "answerable": False, "paragraphs": [
        {**p, "title": f"only-here {p['title']}"} for p in records[0]["paragraphs"]]}
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert [q.id for q in load_questions(path)] == [records[1]["id"]]
    assert sum(d.id.startswith("only-here ") for d in documents(path)) == 20
