"""`train generator --task summarize`: a few real LoRA steps on CSL abstract → title pairs lower the loss."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from ragtune.adapters import META, PEFT_FILES
from ragtune.config import Config
from ragtune.pipeline import Pipeline
from ragtune.read.summaries import load_summaries
from ragtune.summarize import summary_config
from ragtune.train.checkpoint import CHECKPOINT
from ragtune.train.model import load_base, mean_loss
from ragtune.train.summarize import summary_examples, train_summarizer
from ragtune.train.tokenize import encode_example, stop_token_ids

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
    config = summary_config(Config(train={"max_length": 256, "lora_rank": 4, "lora_alpha": 8, "batch_size": 2,
                                          "grad_accum": 1, "lr": 1e-3, "warmup_ratio": 0.0, "max_steps": 4,
                                          "eval_every": 4, "eval_size": 2, "eval_at_start": False,
                                          "gradient_checkpointing": False, "eval_batch_size": 2}), "short")
    out = tmp_path_factory.mktemp("summary-adapter") / "adapter"
    pipeline = Pipeline(out.parent / "no-index", config, progress=False)
    return train_summarizer(pipeline, csl_pairs, out, progress=False), out, config


def test_summarize_task_writes_an_adapter_scored_by_rouge_l(summary_run):
    result, out, _ = summary_run
    assert result.finished and result.step == 4 and result.examples == 8 and result.eval_questions == 2
    assert all((out / name).is_file() for name in PEFT_FILES)
    meta = json.loads((out / META).read_text())
    assert meta["kind"] == "generator" and meta["task"] == "summarize"
    assert meta["history"][-1]["step"] == 4 and 0 <= meta["history"][-1]["rouge_l"] <= 100
    assert meta["best"]["step"] == 4 and "rouge_l" in meta["best"]


def test_summarize_training_lowers_the_loss(summary_run, csl_pairs):
    from peft import PeftModel

    result, out, config = summary_run
    tokenizer, base = load_base(config)
    stops = stop_token_ids(tokenizer, base.generation_config.eos_token_id)
    pairs = load_summaries(csl_pairs)
    rows = [encode_example(tokenizer, e, config.train.max_length, stops) for e in summary_examples(pairs, config)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = PeftModel.from_pretrained(base, str(out / CHECKPOINT))
    after = mean_loss(model, rows, tokenizer.pad_token_id)
    with model.disable_adapter():
        before = mean_loss(model, rows, tokenizer.pad_token_id)
    assert after < 0.9 * before, (before, after)
