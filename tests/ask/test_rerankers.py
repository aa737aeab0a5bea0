import copy
import json
from pathlib import Path

import numpy as np
import pytest

import ragtune
from ragtune.ask.rerankers import create_reranker, create_rerankers
from ragtune.ask.rerankers.cross_encoder import MsMarcoMiniLMReranker
from ragtune.ask.rerankers.query_likelihood import QueryLikelihoodReranker
from ragtune.ask.retriever import HybridRetriever
from ragtune.config import Config, RetrievalConfig
from ragtune.errors import RagtuneError
from ragtune.pipeline import Pipeline

DEMO_DATA = Path(ragtune.__file__).parent / "demo" / "data"


def test_cross_encoder_prefers_the_answering_passage():
    reranker = create_reranker("ms-marco-minilm-l12-int8")
    scores = reranker.scores("When was the Eiffel Tower completed?", [
        "The Eiffel Tower is a landmark in Paris.",
        "Construction of the Eiffel Tower finished in March 1889.",
        "Bananas are rich in potassium.",
    ])
    assert scores.argmax() == 1 and scores.argmin() == 2
    assert reranker.languages == {"en"}


def test_the_cross_encoder_reranks_every_question_unless_a_margin_is_configured():
    assert create_reranker("ms-marco-minilm-l12-int8").margin is None
    gated = create_reranker("ms-marco-minilm-l12-int8", Config(retrieval={"cross_encoder": {"margin": 0.15}}))
    assert isinstance(gated, MsMarcoMiniLMReranker) and gated.margin == 0.15
    assert create_rerankers(Config(retrieval={"cross_encoder": {"margin": 0.15}}))["en"].margin == 0.15


def test_none_disables_reranking():
    assert create_reranker("none") is None
    assert create_rerankers(Config(retrieval={"reranker": "none"})) == {}


def test_unknown_reranker_is_a_one_line_error():
    with pytest.raises(RagtuneError, match="unknown reranker 'bogus'; known: none, ms-marco"):
        create_reranker("bogus")


# ---- generator query likelihood (UPR) -----------------------------------------------------------

def _demo_passages(name: str) -> list[tuple[str, str]]:
    """(first question, its paragraph) of each demo article: real text, one gold paragraph per question."""
    data = json.loads((DEMO_DATA / name).read_text(encoding="utf-8"))["data"]
    return [(a["paragraphs"][0]["qas"][0]["question"], a["paragraphs"][0]["context"]) for a in data]


@pytest.fixture(scope="session")
def ql_reranker() -> QueryLikelihoodReranker:
    """The packaged generator as a reranker, loaded once (the model-heavy tests share it)."""
    reranker = create_reranker("generator-ql")
    reranker.load()
    return reranker


@pytest.mark.parametrize("name,row,others", [("cmrc2018_sample.json", 1, (3, 5, 6)),
                                             ("squad_sample.json", 2, (0, 3, 5))])
def test_query_likelihood_ranks_the_gold_paragraph_first(ql_reranker, name, row, others):
    pairs = _demo_passages(name)
    question, gold = pairs[row]
    passages = [pairs[i][1] for i in others[:1]] + [gold] + [pairs[i][1] for i in others[1:]]
    scores = ql_reranker.scores(question, passages)
    assert scores.argmax() == 1
    assert np.all(scores < 0)  # mean log-probabilities
    # one padded batch scores each passage as it would alone (padding, mask and positions do not leak)
    alone = [ql_reranker.scores(question, [p])[0] for p in passages[:2]]
    np.testing.assert_allclose(scores[:2], alone, atol=0.05)


def test_generator_reranker_is_built_from_the_whole_config_and_loads_lazily(mixed_index, tmp_path):
    config = Config(generator={"name": "smollm2-135m-instruct"}, cache_dir=tmp_path,
                    retrieval={"reranker": "generator-ql", "generator_rerank": {"max_passage_tokens": 64}})
    pipeline = Pipeline(mixed_index.index_dir, config, embedder=mixed_index.embedder, progress=False)
    rerankers = pipeline.retriever.rerankers
    assert set(rerankers) == {"zh", "en"} and rerankers["zh"] is rerankers["en"]
    reranker = rerankers["zh"]
    assert isinstance(reranker, QueryLikelihoodReranker) and reranker.languages == {"zh", "en"}
    assert (reranker.generator.name, reranker.cache_dir, reranker.max_passage_tokens) == (
        "smollm2-135m-instruct", tmp_path, 64)
    assert reranker.model is None  # nothing reranked yet: no model loaded


def test_per_language_reranker_choice():
    both = create_rerankers(Config(retrieval={"reranker_zh": "generator-ql"}))
    assert isinstance(both["en"], MsMarcoMiniLMReranker) and isinstance(both["zh"], QueryLikelihoodReranker)
    chinese_off = create_rerankers(Config(retrieval={"reranker": "generator-ql", "reranker_zh": "none"}))
    assert set(chinese_off) == {"en"}
    # auto (the default): the cross-encoder for English, the generator for Chinese
    auto = create_rerankers(Config())
    assert isinstance(auto["en"], MsMarcoMiniLMReranker) and isinstance(auto["zh"], QueryLikelihoodReranker)
    # one English-only name: Chinese questions keep the fused order; "none": no reranking at all
    assert set(create_rerankers(Config(retrieval={"reranker": "ms-marco-minilm-l12-int8"}))) == {"en"}
    assert create_rerankers(Config(retrieval={"reranker": "none"})) == {}
    with pytest.raises(RagtuneError, match="reranker_zh: 'ms-marco-minilm-l12-int8' does not cover Chinese"):
        create_rerankers(Config(retrieval={"reranker_zh": "ms-marco-minilm-l12-int8"}))


def test_generator_reranker_reorders_a_chinese_querys_fused_candidates(mixed_index, ql_reranker):
    question, gold = "白岳峰现效力于哪支球队？", "DEV_13"
    store, embedder = mixed_index.store, mixed_index.embedder
    fused = [r.id for r in HybridRetriever(store, embedder, RetrievalConfig(reranker="none")).retrieve(question, 8)]
    assert gold in fused[1:5]  # the premise: the fused order does not put the gold paragraph first
    every_question = copy.copy(ql_reranker)  # the same loaded model, reranking whatever the fused margin
    every_question.candidates, every_question.margin = 5, None
    config = RetrievalConfig(reranker="generator-ql")
    ranked = HybridRetriever(store, embedder, config, {"zh": every_question}).retrieve(question, 8)
    assert ranked[0].id == gold
    assert sorted(r.id for r in ranked[:5]) == sorted(fused[:5])
    assert [r.score for r in ranked[:5]] == sorted((r.score for r in ranked[:5]), reverse=True)
    assert [r.id for r in ranked[5:]] == fused[5:]  # beyond the reranker's candidates: fused order


def test_generator_reranker_leaves_a_clear_fused_leader_alone(mixed_index, ql_reranker):
    """Only unsure questions pay for LLM passes: a leader far ahead of the next document keeps its place."""
    store, embedder = mixed_index.store, mixed_index.embedder
    plain = HybridRetriever(store, embedder, RetrievalConfig(reranker="none"))
    gated = copy.copy(ql_reranker)
    gated.margin = 0.25
    calls = []
    gated.scores = lambda query, passages: calls.append(query) or ql_reranker.scores(query, passages)
    retriever = HybridRetriever(store, embedder, RetrievalConfig(reranker="generator-ql"), {"zh": gated})
    clear, unsure = [], []
    for question in ("白岳峰现效力于哪支球队？", "《战国无双3》是由哪两个公司合作开发的？", "这部小说的作者是谁？"):
        fused = plain.retrieve(question, 5)
        runner_up = next(r.score for r in fused if r.id != fused[0].id)
        (unsure if (fused[0].score - runner_up) / fused[0].score < 0.25 else clear).append(question)
        ranked = retriever.retrieve(question, 5)
        if question in clear:
            assert [r.id for r in ranked] == [r.id for r in fused]
    assert calls == unsure
    assert clear and unsure  # both kinds occur among these questions


def test_the_pipelines_chinese_reranker_scores_with_its_generators_model(demo_pipeline):
    """ask and eval hold one copy of the generator: on torch without a LoRA adapter the reranker borrows it; on
    OpenVINO (no logits to score with) it loads a torch copy of the base weights."""
    torch_config = demo_pipeline.config.model_copy(
        update={"generator": demo_pipeline.config.generator.model_copy(update={"backend": "torch"})})
    on_torch = Pipeline(demo_pipeline.index_dir, torch_config, embedder=demo_pipeline.embedder, progress=False)
    for pipeline in (on_torch, demo_pipeline):
        reranker = pipeline.retriever.rerankers["zh"]
        assert isinstance(reranker, QueryLikelihoodReranker)
        reranker.load()
        borrowed = pipeline.loaded("generator") and reranker.model is getattr(pipeline.generator, "model", None)
        assert borrowed == (pipeline.generator_backend == "torch")
        assert reranker.scores("生命数耗完即算为什么？", ["生命数耗完即算为踢爆。", "长城位于中国北方。"]).argmax() == 0
