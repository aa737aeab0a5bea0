"""Summaries with the real generator: map-reduce over a document longer than the context window, query-focused
summaries citing their passages, and the CLI's `summarize --json`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.context import PromptBudget
from ragtune.pipeline import Pipeline
from ragtune.summarize import Summarizer, summary_config
from ragtune.summarize.prompt import PART, summary_messages
from ragtune.summarize.sources import indexed_text
from ragtune.text import language_of

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CMRC_DEV = SHARED / "cmrc2018" / "cmrc2018_dev.json"
#: a context window small enough that four CMRC paragraphs (~1,800 characters) do not fit it
WINDOW = 700


@pytest.fixture(scope="module")
def short_pipeline(tmp_path_factory) -> Pipeline:
    """No index: the summary config at length short and the real (default-backend) generator."""
    return Pipeline(tmp_path_factory.mktemp("summaries") / "index", summary_config(Config(), "short"),
                    progress=False)


def long_chinese_document() -> str:
    data = json.loads(CMRC_DEV.read_text(encoding="utf-8"))
    return "\n".join(a["paragraphs"][0]["context"] for a in data["data"][:4])


def test_map_reduce_summarizes_a_document_longer_than_the_context_window(short_pipeline):
    real = short_pipeline.prompt_budget
    budget = PromptBudget(real.tokenizer, WINDOW, real.max_new_tokens)
    summarizer = Summarizer(short_pipeline, budget=budget, cache=False)
    document = long_chinese_document()
    assert budget.count(summary_messages(document, "zh", 1)) > WINDOW  # the whole document cannot be one prompt
    prompts: list[list] = []
    generate = short_pipeline.generator.generate

    def recorded(batch, **kwargs):
        prompts.extend(batch)
        return generate(batch, **kwargs)

    short_pipeline.generator.generate = recorded
    try:
        result = summarizer.summarize(document)
    finally:
        del short_pipeline.generator.generate
    assert result.pieces >= 2 and result.rounds >= 2
    assert len(prompts) == result.pieces + 1  # each piece mapped, then one reduce (the pieces' summaries fit)
    assert all(budget.count(p) <= budget.limit for p in prompts)
    assert result.summary.strip() and language_of(result.summary) == "zh"
    # the pieces cover the document in order, and each one's prompt fits
    pieces = summarizer.split(document, "zh", PART)
    assert len(pieces) == result.pieces and re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", document)


def test_a_prompt_that_cannot_fit_is_a_one_line_error(short_pipeline):
    real = short_pipeline.prompt_budget
    summarizer = Summarizer(short_pipeline, budget=PromptBudget(real.tokenizer, 120, real.max_new_tokens),
                            cache=False)
    with pytest.raises(RagtuneError, match="does not fit summarize.max_input_tokens"):
        summarizer.summarize(long_chinese_document())


def test_query_summary_cites_its_retrieved_passages(demo_pipeline, embedder):
    pipeline = Pipeline(demo_pipeline.index_dir, summary_config(Config(), "short"), embedder=embedder,
                        progress=False)
    result = Summarizer(pipeline, cache=False).summarize_query("the Apollo program's missions")
    assert result.language == "en" and result.sources
    assert result.cited and all(1 <= n <= len(result.sources) for n in result.cited), result.summary
    payload = result.to_json()
    assert [s["cited"] for s in payload["sources"]] == [n in result.cited for n in
                                                        range(1, len(result.sources) + 1)]


def test_an_indexed_document_is_rebuilt_without_the_chunk_overlap(demo_pipeline):
    store = demo_pipeline.store
    doc_id, chunks = next((pid, [p for p in store.passages if p.id == pid]) for pid in
                          dict.fromkeys(p.id for p in store.passages))
    text = indexed_text(store, doc_id)
    assert all(c.text[-30:] in text for c in chunks)
    with pytest.raises(RagtuneError, match="no document 'nope'"):
        indexed_text(store, "nope")


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_cli_summarize_json_in_the_document_language(tmp_path):
    row = (SHARED / "summarization" / "csl-title-dev.tsv").read_text(encoding="utf-8").splitlines()[1]
    (tmp_path / "abstract.txt").write_text(row.split("\t")[1], encoding="utf-8")
    result = ragtune("summarize", tmp_path / "abstract.txt", "--length", "short", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["language"] == "zh" and payload["length"] == "short" and payload["pieces"] == 1
    assert language_of(payload["summary"]) == "zh"


@pytest.mark.parametrize("args, message", [
    ((), "summarize takes one of"),
    (("--doc", "x"), "--doc and --query need --index DIR"),
    (("--query", "q", "--index", "nowhere", "--length", "huge"), "unknown summary length 'huge'"),
])
def test_cli_summarize_bad_arguments_are_one_line(args, message):
    result = ragtune("summarize", *args)
    assert result.returncode != 0 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
