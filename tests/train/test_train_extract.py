"""`train generator --task extract`: a few real LoRA steps on DuIE sentences (read from ../shared, not copied)
lower the loss, and the adapter records its held-out triple F1."""

from __future__ import annotations

import itertools
import json

import pytest
from datafiles import SHARED
from lora_checks import FEW_STEPS, loss_without_and_with

from ragtune.adapters import META, PEFT_FILES
from ragtune.config import Config
from ragtune.graph.extractor import configured_schema, extract_config
from ragtune.pipeline import Pipeline
from ragtune.read.triples import load_triples
from ragtune.train.extract import extract_examples, train_extractor

pytestmark = pytest.mark.slow  # two loads of the generator and four LoRA steps: ~4 minutes on 2 busy cores

KG = SHARED / "kg"


@pytest.fixture(scope="module")
def duie_lines(tmp_path_factory):
    """Ten real DuIE sentences: eight to train on, two held out by the run itself."""
    path = tmp_path_factory.mktemp("duie") / "duie10.jsonl"
    with open(KG / "duie2-dev-1000.jsonl", encoding="utf-8") as f:
        path.write_text("".join(itertools.islice(f, 20, 30)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def extract_run(tmp_path_factory, duie_lines):
    config = extract_config(Config(
        extract={"schema_file": str(KG / "duie_schema.json"), "max_new_tokens": 48},
        train={"max_length": 384, **FEW_STEPS}))
    out = tmp_path_factory.mktemp("extract-adapter") / "adapter"
    pipeline = Pipeline(out.parent / "no-index", config, progress=False)
    return train_extractor(pipeline, duie_lines, out, progress=False), out, config


def test_extract_task_writes_an_adapter_scored_by_triple_f1(extract_run):
    result, out, _ = extract_run
    assert result.finished and result.step == 4 and result.examples == 8 and result.eval_questions == 2
    assert all((out / name).is_file() for name in PEFT_FILES)
    meta = json.loads((out / META).read_text())
    assert meta["kind"] == "generator" and meta["task"] == "extract"
    last = meta["history"][-1]
    assert last["step"] == 4 and 0 <= last["triple_f1"] <= 100 and 0 <= last["triple_f1_norm"] <= 100
    assert meta["best"]["step"] == 4 and "triple_f1" in meta["best"]


def test_extract_training_lowers_the_loss(extract_run, duie_lines):
    _, out, config = extract_run
    examples = extract_examples(load_triples(duie_lines), config, configured_schema(config))
    before, after = loss_without_and_with(config, out, examples)
    assert after < 0.9 * before, (before, after)
