"""Eval reports: metrics, predictions, plots and the page, for one run and for runs side by side."""

from __future__ import annotations

import json

import pytest

from ragtune.errors import RagtuneError, RagtuneWarning
from ragtune.eval.report import default_run_name, load_runs, recall_curve, write_report, write_task_report
from ragtune.eval.runner import EvalResult, QuestionRecord, evaluate
from ragtune.eval.summaries import SummaryRecord
from ragtune.read.questions import load_questions


def _answered_result(f1s: list[float], em: float) -> EvalResult:
    """A scored run built by hand: the report only reads records and metrics."""
    records = [QuestionRecord(f"q{i}", f"question {i}?", ["ref"], {"p1": 1}, retrieved=["p1", "p2"], hit=True,
                              raw="ref [1]", prediction="ref", cited=[1], em=f1, f1=f1) for i, f1 in enumerate(f1s)]
    metrics = {"n": len(records), "retrieval": {"recall@1": 1.0, "recall@5": 1.0, "recall@20": 1.0, "mrr@10": 1.0,
                                                "ndcg@10": 1.0},
               "answer": {"em": em, "f1": sum(f1s) / len(f1s), "bleu": 10.0, "rouge_l": 50.0},
               "grounding": {"grounded": 100.0, "abstained": 0.0}, "seconds": 1.0}
    return EvalResult(metrics, records, {"retrieval_only": False, "closed_book": False, "k": 5, "adapter": None})


def test_report_for_a_retrieval_run(sample_pipeline, squad_sample, tmp_path):
    # 8 of the 37 questions: the report is under test here, the eval runner in test_runner.py
    result = evaluate(sample_pipeline, load_questions(squad_sample)[:8], retrieval_only=True, progress=False)
    page = write_report(result, tmp_path / "report", "retrieval")
    folder = page.parent
    assert page.name == "index.html" and "runs/retrieval/recall_at_k.png" in page.read_text(encoding="utf-8")
    assert json.loads((folder / "metrics.json").read_text())["metrics"] == result.metrics
    lines = (folder / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == result.metrics["n"]
    first = json.loads(lines[0])
    assert {"question", "references", "prediction", "retrieved", "hit", "f1"} <= set(first)
    assert (folder / "runs" / "retrieval" / "recall_at_k.png").stat().st_size > 0
    assert not (folder / "runs" / "retrieval" / "f1_hist.png").exists()  # no answers, no F1
    curve = recall_curve(result.records)
    assert len(curve) == 20 and curve == sorted(curve)
    assert curve[4] == pytest.approx(result.metrics["retrieval"]["recall@5"], abs=1e-4)


def test_report_compares_runs(tmp_path):
    folder = tmp_path / "report"
    write_report(_answered_result([0.0, 50.0, 100.0], 33.3), folder, default_run_name())
    assert not (folder / "compare.png").exists()  # one run: nothing to compare
    write_report(_answered_result([100.0, 100.0, 50.0], 66.7), folder, default_run_name(adapter="a/dir"))
    write_report(_answered_result([100.0, 100.0, 100.0], 100.0), folder, "rag+adapter")  # re-run replaces
    assert [r["name"] for r in load_runs(folder)] == ["rag", "rag+adapter"]
    assert len((folder / "runs.jsonl").read_text().splitlines()) == 3
    for png in ("compare.png", "runs/rag/f1_hist.png", "runs/rag/recall_at_k.png", "runs/rag+adapter/f1_hist.png"):
        assert (folder / png).stat().st_size > 0, png
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "compare.png" in html and "runs/rag+adapter/f1_hist.png" in html and "question 0?" in html
    assert json.loads((folder / "metrics.json").read_text())["name"] == "rag+adapter"
    assert default_run_name(closed_book=True) == "closed-book"
    assert default_run_name(retrieval_only=True) == "retrieval"
    assert default_run_name(adapter="a/dir", task="extract") == "extract+adapter"
    assert default_run_name(task="summarize") == "summarize"


def test_a_torn_runs_line_is_skipped_with_a_warning(tmp_path):
    """A run killed while appending leaves half a line: later runs still append whole lines and the page loads."""
    folder = tmp_path / "report"
    write_report(_answered_result([50.0], 50.0), folder, "rag")
    with open(folder / "runs.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"name": "torn", "metrics": {"n": 3, "answ')  # no newline: the write stopped here
    with pytest.warns(RagtuneWarning, match=r"runs\.jsonl: line 2 is not a whole run entry"):
        page = write_report(_answered_result([100.0], 100.0), folder, "rag+adapter")
    lines = (folder / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["name"] == "rag+adapter"  # not glued onto the torn line
    with pytest.warns(RagtuneWarning):
        assert [r["name"] for r in load_runs(folder)] == ["rag", "rag+adapter"]
    assert "rag+adapter" in page.read_text(encoding="utf-8")


def test_an_unwritable_report_folder_is_a_one_line_error(tmp_path):
    (tmp_path / "report").write_text("a file, not a folder")
    with pytest.raises(RagtuneError, match="report: cannot write the report"):
        write_report(_answered_result([50.0], 50.0), tmp_path / "report", "rag")


def test_a_task_run_writes_its_records_and_shares_the_folder_with_question_runs(tmp_path):
    """`eval --task extract|summarize --report`: each text's output, parse and gold on disk; a question run
    written to the same folder afterwards still builds its page."""
    folder = tmp_path / "report"
    triples = {"n": 1, "task": "extract", "triples": {"f1": 50.0}, "predicted": 1, "gold": 2, "seconds": 0.1}
    records = [{"id": "t1", "output": '["a", "作者", "b"]', "predicted": [["a", "作者", "b"]],
                "gold": [["a", "作者", "b"], ["a", "出版社", "c"]]}]
    run_dir = write_task_report(triples, records, folder, "extract+adapter", {"task": "extract"})
    assert run_dir == folder / "runs" / "extract+adapter"
    assert [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text("utf-8").splitlines()] == records
    assert json.loads((folder / "metrics.json").read_text())["metrics"] == triples
    summary = SummaryRecord("d1", "zh", "摘要。", ["参考。"], 1, {"rougeL": 40.0})
    write_task_report({"n": 1, "summary": {"rougeL": 40.0}}, [summary], folder, "summarize", {})
    assert json.loads((folder / "predictions.jsonl").read_text("utf-8"))["summary"] == "摘要。"
    page = write_report(_answered_result([50.0], 50.0), folder, "rag")
    assert [r["name"] for r in load_runs(folder)] == ["extract+adapter", "summarize", "rag"]
    assert "extract+adapter" in page.read_text(encoding="utf-8")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RagtuneError, match="cannot write the report"):
        write_task_report(triples, records, tmp_path / "file", "extract", {})
