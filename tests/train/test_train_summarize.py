"""`train generator --task summarize`: a few real LoRA steps on CSL abstract → title pairs lower the loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lora_checks import FEW_STEPS, loss_without_and_with

from ragtune.adapters import META, PEFT_FILES
from ragtune.config import Config
from ragtune.pipeline import Pipeline
from ragtune.read.summaries import load_summaries
from ragtune.summarize import summary_config
from ragtune.train.summarize import summary_examples, train_summarizer

pytestmark = pytest.mark.slow  # two loads of the generator and four LoRA steps: ~4 minutes on 2 busy cores

CSL = Path(__file__).resolve().parents[3] / "shared" / "data" / "summarization" / "csl-title-dev.tsv"


@pytest.fixture(scope="module")
def csl_pairs(tmp_path_factory) -> Path:
    """Ten real CSL rows: eight to train on, two held out by the run itself."""
    path = tmp_path_factory.mktemp("csl") / "csl10.tsv"
    path.write_text("\n".join(CSL.read_text(encoding="utf-8").splitlines()[:10]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def summary_run(tmp_path_factory, csl_pairs):
    config = summary_config(Config(train={"max_length": 256, **FEW_STEPS}), "short")
    out = tmp_path_factory.mktemp("summary-adapter") / "adapter"
    pipeline = Pipeline(out.parent / "no-index", config, progress=False)
    return train_summarizer(pipeline, csl_pairs, out, progress=False), out, config


def test_summarize_task_writes_an_adapter_scored_by_rouge_l(summary_run):
    result, out, _ = summary_run
    assert result.finished and result.step == 4 and result.eval_questions == 2
    # summarize.train_min_support (0.6 by default) keeps the titles their abstract supports: some of the eight
    assert result.examples + result.skipped_unsupported == 8 and 0 < result.skipped_unsupported < 8
    assert all((out / name).is_file() for name in PEFT_FILES)
    meta = json.loads((out / META).read_text())
    assert meta["kind"] == "generator" and meta["task"] == "summarize"
    assert meta["history"][-1]["step"] == 4 and 0 <= meta["history"][-1]["rouge_l"] <= 100
    assert meta["best"]["step"] == 4 and "rouge_l" in meta["best"]


def test_summarize_training_lowers_the_loss(summary_run, csl_pairs):
    _, out, config = summary_run
    before, after = loss_without_and_with(config, out, summary_examples(load_summaries(csl_pairs), config))
    assert after < 0.9 * before, (before, after)
