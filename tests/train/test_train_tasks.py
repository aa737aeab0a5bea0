"""The `--task` registry: each task's needs and options, one-line errors, and extraction examples' targets."""

from __future__ import annotations

import subprocess
import sys

import pytest
from datafiles import SHARED

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.graph.schema import load_schema
from ragtune.graph.triples import parse_triples
from ragtune.read.triples import load_triples
from ragtune.train.extract import extract_examples
from ragtune.train.tasks import TASKS, generator_task

KG = SHARED / "kg"


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_registry_names_and_index_needs():
    assert set(TASKS) == {"qa", "summarize", "extract"}
    assert generator_task("extract", None).name == "extract"
    with pytest.raises(RagtuneError, match="--index DIR is required"):
        generator_task("qa", None)
    with pytest.raises(RagtuneError, match="use one of qa, summarize, extract"):
        generator_task("translate", None)


def test_task_options_and_configs(tmp_path):
    config = TASKS["extract"].configured(Config(), schema=KG / "duie_schema.json")
    assert config.extract.schema_file == str(KG / "duie_schema.json")
    assert config.generator.max_new_tokens == config.extract.max_new_tokens
    assert TASKS["summarize"].configured(Config(), length="short").summarize.length == "short"
    assert TASKS["qa"].configured(Config(), length="short") == Config()  # ignored, as it always was
    with pytest.raises(RagtuneError, match="--task summarize takes no --schema"):
        TASKS["summarize"].configured(Config(), schema="x.json")
    with pytest.raises(RagtuneError, match="--task extract takes no --length"):
        TASKS["extract"].configured(Config(), length="short")


def test_score_lines_keep_their_old_shape():
    assert TASKS["qa"].score_line({"step": 5, "f1": 61.234, "em": 50.0}) == "; best F1 61.2 EM 50.0 at step 5"
    assert TASKS["summarize"].score_line({"step": 2, "rouge_l": 30.06}) == "; best ROUGE-L 30.1 at step 2"
    assert TASKS["extract"].score_line({"step": 3}) == ""


def test_cli_errors_are_one_line(tmp_path):
    result = ragtune("eval", KG / "duie2-dev-1000.jsonl", "--task", "extract", "--length", "short")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: --task extract takes no --length"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "triples": [["s", "p"]]}\n', encoding="utf-8")
    result = ragtune("train", "generator", bad, "--task", "extract", "--out", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {bad}: line 1: a triple must be [subject, predicate, object]"


def test_extraction_targets_keep_on_schema_triples_and_every_webnlg_text(tmp_path):
    schema = load_schema(KG / "duie_schema.json")
    duie = load_triples(KG / "duie2-dev-1000.jsonl")[:3]
    examples = extract_examples(duie, Config(), schema)
    assert len(examples) == 3 and examples[0].lang == "zh"
    assert set(parse_triples(examples[0].target, schema)) == set(duie[0].triples)
    assert "谓语只能用" in examples[0].messages()[0]["content"]
    lines = (KG / "webnlg2-en-931.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    (tmp_path / "w.jsonl").write_text("\n".join(lines), encoding="utf-8")
    webnlg = extract_examples(load_triples(tmp_path / "w.jsonl"), Config(), None)
    assert [e.id for e in webnlg] == ["Id1", "Id1#1", "Id3", "Id3#1", "Id3#2"] and webnlg[0].lang == "en"
    assert webnlg[0].target == webnlg[1].target == '["Abilene Regional Airport", "cityServed", "Abilene, Texas"]'
