"""Questions: SQuAD json, jsonl and BEIR folders load into one Question; bad data is a one-line RagtuneError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune.errors import LoadError, RagtuneError
from ragtune.read.questions import Question, load_questions

DEMO_SQUAD = Path(__file__).resolve().parents[2] / "ragtune" / "demo" / "data" / "squad_sample.json"


def write_beir(folder: Path, splits: dict[str, str]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "title": f"T{i}", "text": f"text {i}"} for i in range(4)]
    queries = [{"_id": "q1", "text": "first?"}, {"_id": "q2", "text": "second?"}, {"_id": "q3", "text": "third?"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    for split, rows in splits.items():
        (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    return folder


def test_squad_questions_keep_every_answer_and_their_paragraph():
    questions = load_questions(DEMO_SQUAD)
    raw = json.loads(DEMO_SQUAD.read_text(encoding="utf-8"))
    first_para = raw["data"][0]["paragraphs"][0]
    first_qa = first_para["qas"][0]
    assert len(questions) == sum(len(p["qas"]) for a in raw["data"] for p in a["paragraphs"])
    q = questions[0]
    assert q.id == first_qa["id"] and q.text == first_qa["question"]
    assert q.answers == tuple(a["text"] for a in first_qa["answers"])
    expected_pid = first_para.get("id") or "squad_sample-0-0"
    assert q.qrels == {expected_pid: 1}
    assert all(isinstance(x, Question) and len(x.qrels) == 1 for x in questions)


def test_beir_graded_qrels_default_to_test_split(tmp_path):
    folder = write_beir(tmp_path / "beir", {"test": "q2\td1\t2\nq2\td3\t1\nq1\td0\t1\n", "train": "q3\td2\t1\n"})
    questions = load_questions(folder)
    assert [q.id for q in questions] == ["q1", "q2"]  # queries.jsonl order, only judged queries
    assert questions[1].qrels == {"d1": 2, "d3": 1}
    assert questions[1].text == "second?" and questions[1].answers == ()
    assert [q.id for q in load_questions(folder, "train")] == ["q3"]


def test_beir_without_test_split_uses_train(tmp_path):
    folder = write_beir(tmp_path / "beir", {"train": "q3\td2\t1\n"})
    assert [(q.id, q.qrels) for q in load_questions(folder)] == [("q3", {"d2": 1})]


def _bad_cases(root: Path) -> dict[str, tuple[Path, str | None, str]]:
    """name -> (DATA path, split, expected words in the error)."""
    (root / "bad.json").write_text("{not json", encoding="utf-8")
    (root / "other.json").write_text('{"rows": []}', encoding="utf-8")
    (root / "plain_dir").mkdir()
    write_beir(root / "no_split", {"train": "q1\td0\t1\n"})
    write_beir(root / "bad_score", {"test": "q1\td0\thigh\n"})
    write_beir(root / "unknown_query", {"test": "q9\td0\t1\n"})
    return {
        "missing": (root / "missing.json", None, "no such file"),
        "bad json": (root / "bad.json", None, "invalid JSON"),
        "not squad": (root / "other.json", None, "not a SQuAD-format"),
        "not beir": (root / "plain_dir", None, "no queries.jsonl"),
        "no split": (root / "no_split", "dev", "no qrels for split 'dev' (have: train)"),
        "bad score": (root / "bad_score", None, "not an integer"),
        "unknown query": (root / "unknown_query", None, "not in queries.jsonl"),
    }


def test_bad_data_is_one_line_naming_the_file(tmp_path):
    for name, (path, split, message) in _bad_cases(tmp_path).items():
        with pytest.raises(RagtuneError) as info:
            load_questions(path, split)
        text = str(info.value)
        assert message in text and "\n" not in text, name
        assert text.startswith(str(tmp_path)), name


def test_jsonl_and_squad_questions_for_training_keep_those_with_answers(tmp_path):
    path = tmp_path / "qa.jsonl"
    rows = [{"question": "Q1?", "answer": "A1"}, {"question": "Q2?", "answers": ["A2", "B2"], "id": "x"},
            {"question": "Q3?", "answer": ""}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    questions = load_questions(path, answered=True)
    assert [(q.id, q.answers, q.gold_id) for q in questions] == [("qa-1", ("A1",), None), ("x", ("A2", "B2"), None)]
    path.write_text('{"question": 3}\n', encoding="utf-8")
    with pytest.raises(LoadError, match="line 1"):
        load_questions(path, answered=True)
    squad = tmp_path / "s.json"
    squad.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [
        {"context": "c", "qas": [{"id": "a", "question": "q?", "answers": [{"text": "c"}]}]}]}]}))
    assert load_questions(squad, answered=True) == [Question("a", "q?", ("c",), {"s-0-0": 1})]
