"""Traditional Chinese meets Simplified: OpenCC t2s on the search views only, fixed per index."""

from __future__ import annotations

import json
from pathlib import Path

import opencc
import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.eval.retrieval_metrics import dedupe, recall_at_k
from ragtune.index.backends import open_index
from ragtune.index.script import script_normalizer
from ragtune.index.store import IndexStore
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

CMRC_DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json"
TO_TRADITIONAL = opencc.OpenCC("s2twp").convert


def test_t2s_converts_traditional_and_leaves_simplified() -> None:
    t2s = script_normalizer("t2s")
    assert t2s("臺灣大學的學生們") == "台湾大学的学生们"
    assert t2s("台湾大学的学生们") == "台湾大学的学生们"
    assert t2s("Taipei 101") == "Taipei 101"
    assert script_normalizer("none")("臺灣") == "臺灣"
    with pytest.raises(RagtuneError, match="unknown script"):
        script_normalizer("s2j")


@pytest.fixture(scope="module")
def traditional_squad(tmp_path_factory):
    """The first 40 CMRC 2018 dev articles converted to Traditional (Taiwan usage), questions too."""
    data = json.loads(CMRC_DEV.read_text(encoding="utf-8"))
    data["data"] = data["data"][:40]
    text = TO_TRADITIONAL(json.dumps(data, ensure_ascii=False))
    path = tmp_path_factory.mktemp("trad") / "cmrc_traditional.json"
    path.write_text(text, encoding="utf-8")
    return path


def _recall_at_1(pipeline: Pipeline, questions) -> float:
    ranked = pipeline.retriever.retrieve_many([q.text for q in questions], 5)
    hits = [recall_at_k(dedupe([p.id for p in r]), q.qrels, 1) for q, r in zip(questions, ranked)]
    return sum(hits) / len(hits)


def test_simplified_questions_find_traditional_passages_only_normalised(tmp_path, traditional_squad, embedder):
    """Same-script retrieval gains less (BENCHMARKS.md: Traditional CMRC dev hybrid recall@1 0.958 -> 0.976);
    across scripts, jieba's tokens of 臺灣 and 台湾 never meet without it."""
    questions = load_questions(CMRC_DEV)[:150]  # the Simplified originals of the converted questions
    recall = {}
    for script in ("none", "t2s"):
        config = Config.load(**{"index.script": script, "retrieval.reranker": "none"})
        pipeline = Pipeline(tmp_path / script, config, embedder=embedder, progress=False)
        pipeline.read([traditional_squad])
        assert open_index(pipeline.index_dir).script == script
        recall[script] = _recall_at_1(pipeline, questions)
        top = pipeline.retriever.retrieve(questions[0].text, 1)[0]
        # stored text stays Traditional: the passage is a verbatim piece of the converted file
        assert top.passage.text[:40] in traditional_squad.read_text(encoding="utf-8")
    assert recall["t2s"] >= 0.9
    assert recall["t2s"] >= recall["none"] + 0.05, recall


def test_index_without_script_in_manifest_keeps_queries_unnormalised(tmp_path, pipeline_factory, embedder) -> None:
    (tmp_path / "a.txt").write_text("臺灣的首都是臺北。", encoding="utf-8")
    old_format = Config.load(**{"index.backend": "snapshot"})
    pipeline = Pipeline(tmp_path / "index", old_format, embedder=embedder, progress=False)
    pipeline.read([tmp_path / "a.txt"])
    snap = IndexStore.current_snapshot(pipeline.index_dir)
    manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["script"] == "t2s"
    del manifest["script"]  # as written before normalisation existed
    (snap / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    old = open_index(pipeline.index_dir)  # the embedded backend migrates it, keeping its normalisation
    assert old.script == "none" and not (pipeline.index_dir / "CURRENT").exists()
    assert old.search_text("臺灣") == "臺灣"
    # more files read into it keep its normalisation, so old and new passages stay comparable
    (tmp_path / "b.txt").write_text("臺北有一百零一大樓。", encoding="utf-8")
    pipeline_factory().read([tmp_path / "b.txt"])
    assert open_index(pipeline.index_dir).script == "none"
