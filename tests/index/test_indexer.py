"""Incremental reads, deletes and bad input, on real files and the real embedder."""

import json

import pytest

from ragtune.errors import RagtuneError
from ragtune.index.backends import open_index


def _write_squad(path, paragraphs):
    paras = [{"id": pid, "context": text, "qas": []} for pid, text in paragraphs]
    data = {"data": [{"title": "T", "paragraphs": paras}]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_reread_adds_nothing_and_changed_file_replaces_its_chunks(tmp_path, pipeline_factory):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("苹果是一种水果。它通常是红色的。", encoding="utf-8")
    (docs / "b.md").write_text("# Bananas\n\nBananas are yellow.", encoding="utf-8")
    pipeline = pipeline_factory()

    first = pipeline.read([docs])
    assert (first.files_new, first.passages_added, first.passages_total) == (2, 2, 2)

    again = pipeline.read([docs])
    assert (again.files_new, again.files_unchanged, again.passages_added, again.passages_total) == (0, 2, 0, 2)

    (docs / "a.txt").write_text("苹果可以做成苹果派。", encoding="utf-8")
    changed = pipeline.read([docs])
    assert (changed.files_changed, changed.passages_removed, changed.passages_added) == (1, 1, 1)
    texts = [p.text for p in open_index(pipeline.index_dir).passages]
    assert "苹果可以做成苹果派。" in texts and not any("红色" in t for t in texts)
    ids = {p.id for p in open_index(pipeline.index_dir).passages}
    assert ids == {"docs/a.txt", "docs/b.md"}


def test_squad_paragraph_ids_are_kept(tmp_path, pipeline_factory):
    path = _write_squad(tmp_path / "set.json", [("P1", "巴黎是法国的首都。"), ("P2", "柏林是德国的首都。")])
    pipeline = pipeline_factory()
    pipeline.read([path])
    assert {p.id for p in open_index(pipeline.index_dir).passages} == {"P1", "P2"}
    assert pipeline.retrieve("德国的首都是哪里？", k=1)[0].id == "P2"


def test_delete_removes_a_file_and_a_folder(tmp_path, pipeline_factory):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("first file text", encoding="utf-8")
    (tmp_path / "d" / "y.txt").write_text("second file text", encoding="utf-8")
    (tmp_path / "z.txt").write_text("third file text", encoding="utf-8")
    pipeline = pipeline_factory()
    pipeline.read([tmp_path / "d", tmp_path / "z.txt"])
    report = pipeline.delete([tmp_path / "d" / "x.txt"])
    assert (report.files_deleted, report.passages_total) == (1, 2)
    (tmp_path / "d" / "y.txt").unlink()  # deleting works for files already gone from disk
    report = pipeline.delete([tmp_path / "d"])
    assert (report.files_deleted, report.passages_total) == (1, 1)
    assert [p.id for p in open_index(pipeline.index_dir).passages] == ["z.txt"]
    assert pipeline.delete([tmp_path / "never.txt"]).errors


def test_bad_inputs_are_reported_and_the_rest_ingested(tmp_path, pipeline_factory):
    good = tmp_path / "good.txt"
    good.write_text("A good document about rivers.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "other.json").write_text('{"hello": 1}', encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"id": "1", "text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    report = pipeline_factory().read([tmp_path, tmp_path / "missing.txt"])
    problems = {e.path.rsplit("/", 1)[-1]: e.problem for e in report.errors}
    assert report.files_new == 1 and report.passages_total == 1
    assert problems["empty.txt"] == "empty file"
    assert "binary" in problems["binary.txt"]
    assert "PDF" in problems["broken.pdf"]
    assert "invalid JSON" in problems["broken.json"]
    assert "SQuAD" in problems["other.json"]
    assert problems["bad.jsonl"].startswith("line 2:")
    assert problems["image.png"] == "unsupported file type '.png'"
    assert problems["missing.txt"] == "no such file or directory"
    assert all("\n" not in str(e) for e in report.errors)


def test_ask_without_index_says_to_read_first(tmp_path, pipeline_factory):
    with pytest.raises(RagtuneError, match="run `ragtune read"):
        pipeline_factory("nothing-here").retrieve("anything")


def test_beir_folder_reads_only_the_corpus(tmp_path, pipeline_factory):
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(
        '{"_id": "d1", "title": "Sun", "text": "The sun is a star."}\n{"_id": "d2", "text": "Water boils."}\n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "what is the sun"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    (beir / "SOURCE.txt").write_text("where this came from")
    pipeline = pipeline_factory()
    report = pipeline.read([beir])
    assert not report.errors and report.passages_total == 2
    assert pipeline.retrieve("what is the sun", k=1)[0].id == "d1"
