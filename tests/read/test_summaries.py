"""(document, summary) pairs from real small samples of CSL (tsv) and SummEval's CNN/DailyMail (jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune.errors import LoadError
from ragtune.read.summaries import load_summaries

SUMMARIES = Path(__file__).resolve().parents[3] / "shared" / "data" / "summarization"


def test_csl_tsv_three_columns_give_abstract_and_title(tmp_path):
    sample = tmp_path / "csl.tsv"
    sample.write_text("\n".join((SUMMARIES / "csl-title-dev.tsv").read_text(encoding="utf-8").splitlines()[:3]),
                      encoding="utf-8")
    pairs = load_summaries(sample)
    assert len(pairs) == 3
    assert pairs[0].document.startswith("采用修正的Rodrigues参数") and pairs[0].target.startswith("一种基于平方和优化")
    assert pairs[0].id == "csl-1" and not pairs[0].document.startswith("to title")


def test_summeval_jsonl_keeps_the_highlights_first_then_the_other_references(tmp_path):
    line = (SUMMARIES / "cnndm-summeval-100.jsonl").read_text(encoding="utf-8").splitlines()[0]
    (tmp_path / "cnn.jsonl").write_text(line + "\n", encoding="utf-8")
    record = json.loads(line)
    [pair] = load_summaries(tmp_path / "cnn.jsonl")
    assert pair.id == record["doc_id"] and pair.document == record["src"]
    assert pair.target == record["ref_summ"] and len(pair.summaries) == len(set([record["ref_summ"],
                                                                                 *record["ref_summs"]]))


@pytest.mark.parametrize("content, problem", [
    ('{"document": "text"}\n', 'line 1: needs a "document"'),
    ("one column only\n", "line 1: expected 'document<TAB>summary'"),
    ("", "empty file"),
])
def test_malformed_summary_data_is_one_line_naming_the_file(tmp_path, content, problem):
    path = tmp_path / ("bad.jsonl" if content.startswith("{") else "bad.tsv")
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        load_summaries(path)
    assert str(caught.value).startswith(str(path)) and problem in str(caught.value)
    assert "\n" not in str(caught.value)
