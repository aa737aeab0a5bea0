"""Pipeline: models given to it, parts built on first use and again after the index changes, and the batched
retrieve_many / ask_many that answer as retrieve / ask do, question by question."""

from __future__ import annotations

import pytest

import ragtune.pipeline as pipeline_module
from ragtune.config import Config
from ragtune.pipeline import Pipeline

QUESTIONS = ["海梅·雷耶斯哪家漫画公司的虚拟人物？", "When did Khan formally declare the Yuan dynasty?"]


def test_given_models_are_used_and_index_parts_are_built_again_after_a_read(embedder, tmp_path):
    pipeline = Pipeline(tmp_path / "index", Config(retrieval={"reranker": "none"}), embedder=embedder,
                        progress=False)
    assert pipeline.embedder is embedder and pipeline.loaded("embedder")
    assert not any(pipeline.loaded(part) for part in ("store", "retriever", "generator"))
    with pytest.raises(AttributeError, match="give a ready one to the constructor"):
        pipeline.embedder = embedder
    first = tmp_path / "tides.txt"
    first.write_text("The tides are caused by the gravity of the Moon and the Sun.\n", encoding="utf-8")
    pipeline.read([first])
    before = pipeline.store
    assert pipeline.store is before and len(before) == 1  # built once, then kept
    second = tmp_path / "volcano.txt"
    second.write_text("A volcano erupts when magma rises through the crust.\n", encoding="utf-8")
    pipeline.read([second])
    assert pipeline.store is not before and len(pipeline.store) == 2  # the read index, not the kept one
    [ranked] = pipeline.retrieve_many(["What makes a volcano erupt?"], 1)
    assert ranked[0].passage.text.startswith("A volcano") and not pipeline.loaded("generator")


def test_retrieve_many_ranks_as_retrieve_does(mixed_index, monkeypatch):
    monkeypatch.setattr(pipeline_module, "RETRIEVE_BATCH", 2)  # batches of 2, so 4 questions cross a boundary
    questions = [*QUESTIONS, "Who was Kublai Khan's grandfather?", QUESTIONS[0]]
    assert len(questions) > pipeline_module.RETRIEVE_BATCH
    many = mixed_index.retrieve_many(questions, 5)
    one_by_one = {q: mixed_index.retrieve(q, 5) for q in set(questions)}
    assert len(many) == len(questions)
    for question, ranked in zip(questions, many, strict=True):
        assert [(r.id, r.passage.chunk) for r in ranked] == [(r.id, r.passage.chunk) for r in one_by_one[question]]
    plain = Pipeline(mixed_index.index_dir, Config(retrieval={"reranker": "none"}), embedder=mixed_index.embedder,
                     progress=False)
    assert [[r.id for r in rs] for rs in mixed_index.retrieve_many(QUESTIONS, 5, base=True)] == [
        [r.id for r in plain.retrieve(q, 5)] for q in QUESTIONS]  # base: no reranker, no adapter


def test_ask_many_without_relevant_passages_answers_idk_without_the_generator(mixed_index):
    config = Config(retrieval={"reranker": "none", "min_dense_score": 2.0})
    pipeline = Pipeline(mixed_index.index_dir, config, embedder=mixed_index.embedder, progress=False)
    [answer] = pipeline.ask_many(["xyzzy qwertyuiop?"])
    single = pipeline.ask("xyzzy qwertyuiop?")
    assert answer.answer == single.answer == "I don't know" and answer.cited == []
    assert [s.id for s in answer.sources] == [s.id for s in single.sources]
    assert not pipeline.loaded("generator")


def test_ask_many_gives_the_answers_ask_gives(demo_pipeline):
    """Batched generation (left-padded, one batch) answers each question as streaming `ask` does."""
    for question, batched in zip(QUESTIONS, demo_pipeline.ask_many(QUESTIONS), strict=True):
        single = demo_pipeline.ask(question)
        assert batched.answer == single.answer and batched.cited == single.cited and batched.cited
        assert [s.id for s in batched.sources] == [s.id for s in single.sources]
