"""Retriever fine-tuning on the real packaged embedders: loss, hard negatives, and the adapter ask loads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ragtune.adapters import ENCODER, QUERY_ADAPTER, QUERY_ADAPTER_FILE, inspect_adapter
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.backends import index_version, open_index
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions
from ragtune.train.examples import contains_answer
from ragtune.train.negatives import NegativeMiner, make_batch, mine_examples
from ragtune.train.query_adapter import QueryAdapter, adapter_loss, adapter_step, batch_tensors

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "scifact"


def _with(pipeline: Pipeline, adapter=None, **train_retriever) -> Pipeline:
    """The same index and loaded embedder, with other train_retriever settings (and an --adapter)."""
    tc = pipeline.config.train_retriever.model_copy(update=train_retriever)
    fresh = Pipeline(pipeline.index_dir, pipeline.config.model_copy(update={"train_retriever": tc}), adapter=adapter,
                     embedder=pipeline.embedder, progress=False)
    return fresh


def _mined(pipeline: Pipeline, data, depth: int = 50, hard_negatives: int = 3, split=None):
    questions = load_questions(data, split or "train", answered=not Path(data).is_dir())
    vectors = pipeline.embedder.encode_queries([q.text for q in questions])
    examples = mine_examples(pipeline.store, questions, vectors, hard_negatives=hard_negatives, depth=depth)
    return questions, vectors, examples


# --------------------------------------------------------------------------- loss


def test_one_query_adapter_step_lowers_the_contrastive_loss_on_its_batch(train_pipeline, squad_slice):
    questions, vectors, examples = _mined(train_pipeline, squad_slice)
    batch = make_batch(examples[:8], questions, train_pipeline.store.passages)
    tensors = batch_tensors(batch, vectors, np.asarray(train_pipeline.store.vectors()))
    adapter = QueryAdapter(vectors.shape[1])
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=1e-3)
    with torch.no_grad():
        before = adapter_loss(adapter, tensors, 0.05).item()
    assert adapter_step(adapter, optimizer, tensors, 0.05) == pytest.approx(before)
    with torch.no_grad():
        after = adapter_loss(adapter, tensors, 0.05).item()
    assert after < before


def test_in_batch_columns_that_answer_a_question_are_masked_for_it(train_pipeline, squad_slice):
    questions, _, examples = _mined(train_pipeline, squad_slice)
    batch = make_batch(examples, questions, train_pipeline.store.passages)
    passages = train_pipeline.store.passages
    for i, query in enumerate(batch.queries):
        q = questions[query]
        assert batch.allowed[i, batch.targets[i]]
        for j, row in enumerate(batch.columns):
            if j != batch.targets[i] and (passages[row].id in q.positive_ids or contains_answer(passages[row],
                                                                                                q.answers)):
                assert not batch.allowed[i, j]
    # SQuAD paragraphs carry several questions, so some masking must have happened
    assert not batch.allowed.all()


# --------------------------------------------------------------------------- hard negatives


def test_miner_never_returns_a_passage_containing_the_answer(train_pipeline, squad_slice, tmp_path):
    passages = train_pipeline.store.passages
    # SQuAD (gold paragraph known) and jsonl without passage_id (only the answer rule applies)
    jsonl = tmp_path / "pairs.jsonl"
    squad = load_questions(squad_slice, answered=True)
    jsonl.write_text("".join(json.dumps({"question": q.text, "answer": q.answers[0]}) + "\n" for q in squad))
    for data in (squad_slice, jsonl):
        questions, vectors, examples = _mined(train_pipeline, data, hard_negatives=len(passages))
        assert examples
        miner = NegativeMiner(train_pipeline.store, depth=len(passages))
        for ex in examples:
            q = questions[ex.query]
            assert ex.negatives and ex.positive not in ex.negatives
            for row in ex.negatives:
                assert not contains_answer(passages[row], q.answers)
                assert passages[row].id not in q.positive_ids
            # only answer passages were left out of the candidates
            candidates = miner.candidates(q.text, vectors[ex.query])
            assert [r for r in candidates if r not in ex.negatives] == [
                r for r in candidates if passages[r].id in q.positive_ids or contains_answer(passages[r], q.answers)]


@pytest.fixture(scope="module")
def scifact_slice(tmp_path_factory) -> Path:
    """A small real BEIR folder: 12 SciFact train queries, their positive abstracts, and 40 other abstracts."""
    folder = tmp_path_factory.mktemp("scifact")
    rows = (SCIFACT / "qrels" / "train.tsv").read_text().splitlines()[1:]
    qrels: dict[str, list[str]] = {}
    for line in rows:
        qid, doc, _ = line.split("\t")
        if len(qrels) < 12 or qid in qrels:
            qrels.setdefault(qid, []).append(doc)
    wanted = {d for docs in qrels.values() for d in docs}
    corpus, others = [], 0
    for line in (SCIFACT / "corpus.jsonl").read_text().splitlines():
        doc = json.loads(line)
        if doc["_id"] in wanted or others < 40:
            others += doc["_id"] not in wanted
            corpus.append(line)
    queries = [line for line in (SCIFACT / "queries.jsonl").read_text().splitlines()
               if json.loads(line)["_id"] in qrels]
    (folder / "qrels").mkdir()
    (folder / "corpus.jsonl").write_text("\n".join(corpus) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(queries) + "\n")
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, docs in qrels.items() for d in docs))
    return folder


def test_miner_never_returns_a_qrels_positive_passage(pipeline_factory, scifact_slice):
    pipeline = pipeline_factory("scifact")
    pipeline.read([scifact_slice])
    passages = pipeline.store.passages
    questions, vectors, examples = _mined(pipeline, scifact_slice, depth=len(passages), hard_negatives=len(passages))
    assert {questions[ex.query].id for ex in examples} == {q.id for q in questions}
    miner = NegativeMiner(pipeline.store, depth=len(passages))
    for ex in examples:
        q = questions[ex.query]
        assert passages[ex.positive].id in q.positive_ids
        assert not any(passages[row].id in q.positive_ids for row in ex.negatives)
        # every candidate that is not a qrels positive is offered: only positives were taken out
        candidates = miner.candidates(q.text, vectors[ex.query])
        assert [r for r in candidates if passages[r].id not in q.positive_ids] == ex.negatives


# --------------------------------------------------------------------------- the query adapter ask loads


@pytest.fixture(scope="module")
def query_adapter(train_pipeline, squad_slice, tmp_path_factory):
    from ragtune.train.retriever import train_retriever

    out = tmp_path_factory.mktemp("retriever") / "adapter"
    pipeline = _with(train_pipeline, max_steps=8, batch_size=8, lr=1e-3, eval_fraction=0.0)  # keep the last step
    return train_retriever(pipeline, squad_slice, out, progress=False)


def test_training_writes_a_query_adapter_folder(query_adapter, train_pipeline):
    assert query_adapter.kind == QUERY_ADAPTER and query_adapter.steps == 8
    assert query_adapter.loss_last < query_adapter.loss_first
    info = inspect_adapter(query_adapter.out)
    assert info.kind == QUERY_ADAPTER and info.meta["embedder"] == train_pipeline.store.embedder
    assert not info.meta["reembed_required"]
    assert not list(query_adapter.out.parent.glob(".adapter.tmp-*"))  # the temporary folder was renamed away


def test_held_out_questions_pick_a_step_no_worse_than_the_base(train_pipeline, squad_slice, tmp_path):
    from ragtune.train.retriever import train_retriever

    pipeline = _with(train_pipeline, max_steps=6, batch_size=4, lr=1e-3, eval_fraction=0.3, eval_every=2)
    result = train_retriever(pipeline, squad_slice, tmp_path / "adapter", progress=False)
    heldout = result.heldout
    # 30% of 13 questions is 4; whole paragraphs are held out, so the paragraphs reaching 4 questions hold 6
    assert heldout["questions"] == 6 and heldout["best_step"] in (0, 2, 4, 6)
    assert heldout["best_mrr@10"] >= heldout["base_mrr@10"] > 0
    assert json.loads((result.out / "ragtune.json").read_text())["heldout"] == heldout
    assert result.examples == 7  # the held-out questions are not trained on
    # the fusion weight is fitted on the same held-out questions, with the adapted queries
    fusion = result.fusion
    assert fusion["questions"] == 6 and fusion["default_dense_weight"] == train_pipeline.embedder.dense_weight
    assert fusion["fitted_mrr@10"] >= fusion["default_mrr@10"] > 0
    assert str(fusion["dense_weight"]) in fusion["grid"] or fusion["dense_weight"] == fusion["default_dense_weight"]
    assert json.loads((result.out / "ragtune.json").read_text())["fusion"] == fusion


def test_a_fitted_fusion_weight_applies_unless_the_config_sets_one(train_pipeline, squad_slice, tmp_path):
    from ragtune.train.retriever import train_retriever

    pipeline = _with(train_pipeline, max_steps=2, batch_size=4, lr=1e-3, eval_fraction=0.3, eval_every=2)
    folder = train_retriever(pipeline, squad_slice, tmp_path / "adapter", progress=False).out
    meta = json.loads((folder / "ragtune.json").read_text())
    meta["fusion"] = {**meta["fusion"], "dense_weight": 2.5}
    (folder / "ragtune.json").write_text(json.dumps(meta))
    assert _with(train_pipeline, adapter=folder).retriever.config.dense_weight == 2.5
    assert train_pipeline.retriever.config.dense_weight == train_pipeline.embedder.dense_weight
    explicit = Pipeline(train_pipeline.index_dir, train_pipeline.config.model_copy(
        update={"retrieval": train_pipeline.config.retrieval.model_copy(update={"dense_weight": 0.7})}),
        adapter=folder, embedder=train_pipeline.embedder, progress=False)
    assert explicit.retriever.config.dense_weight == 0.7


def test_an_interrupted_run_resumes_exactly_also_from_the_cli(train_pipeline, squad_slice, tmp_path):
    """Three steps, stop, `--resume`: the same kept adapter, held-out record and losses as six steps straight."""
    from safetensors.torch import load_file

    from ragtune.train.checkpoint import CHECKPOINT
    from ragtune.train.retriever import train_retriever

    pipeline = _with(train_pipeline, max_steps=6, batch_size=4, lr=1e-3, eval_fraction=0.3, eval_every=2,
                     save_every=2)
    straight = train_retriever(pipeline, squad_slice, tmp_path / "straight", progress=False)
    reference = load_file(straight.out / QUERY_ADAPTER_FILE)["weight"]
    out = tmp_path / "adapter"
    assert train_retriever(pipeline, squad_slice, out, progress=False, stop_after=3) is None
    assert (out / CHECKPOINT).is_dir() and not (out / "ragtune.json").exists()
    with pytest.raises(RagtuneError, match="--resume"):
        train_retriever(pipeline, squad_slice, out, progress=False)
    resumed = train_retriever(pipeline, squad_slice, out, resume=True, progress=False)
    assert resumed.heldout == straight.heldout and resumed.fusion == straight.fusion
    assert (resumed.loss_first, resumed.loss_last) == (straight.loss_first, straight.loss_last)
    assert torch.equal(load_file(out / QUERY_ADAPTER_FILE)["weight"], reference)
    assert not (out / CHECKPOINT).exists()  # the finished folder holds only the adapter

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(pipeline.config.model_dump(mode="json")), encoding="utf-8")
    cli_out = tmp_path / "cli"
    train_retriever(pipeline, squad_slice, cli_out, progress=False, stop_after=3)
    done = ragtune("train", "retriever", squad_slice, "--index", pipeline.index_dir, "--out", cli_out, "--resume",
                   "--config", config)
    assert done.returncode == 0, done.stderr
    torch.testing.assert_close(load_file(cli_out / QUERY_ADAPTER_FILE)["weight"], reference, rtol=0, atol=1e-6)
    fresh = ragtune("train", "retriever", squad_slice, "--index", pipeline.index_dir, "--out", tmp_path / "fresh",
                    "--resume")
    assert fresh.returncode == 1 and "Traceback" not in fresh.stderr
    assert [line for line in fresh.stderr.splitlines() if line.strip()] == [
        f"error: {tmp_path / 'fresh'}: nothing to resume (no checkpoint/ folder)"]


def test_held_out_questions_share_no_passage_with_training_questions(train_pipeline, squad_slice):
    from ragtune.train.retriever import held_out

    questions, _, examples = _mined(train_pipeline, squad_slice)
    passages = train_pipeline.store.passages
    train, held = held_out(examples, len(questions), 0.3, seed=0, document_of=lambda row: passages[row].id)
    assert len({e.query for e in held}) >= 4 and len(train) + len(held) == len(examples)
    assert not {passages[e.positive].id for e in held} & {passages[e.positive].id for e in train}
    assert not {e.query for e in held} & {e.query for e in train}


def test_saved_query_adapter_is_the_one_ask_loads(query_adapter, train_pipeline):
    from safetensors.torch import load_file

    pipeline = _with(train_pipeline, adapter=query_adapter.out)
    assert pipeline.generator_adapter is None  # a retriever adapter leaves the generator alone
    assert pipeline.retriever.embedder is pipeline.query_embedder
    texts = ["Who led the Mongol Empire?", "When did Project Apollo end?"]
    base = train_pipeline.embedder.encode_queries(texts)
    adapted = pipeline.query_embedder.encode_queries(texts)
    assert not np.allclose(adapted, base, atol=1e-4)
    saved = QueryAdapter(base.shape[1])
    saved.load_state_dict(load_file(str(query_adapter.out / QUERY_ADAPTER_FILE)))
    with torch.no_grad():
        expected = saved(torch.from_numpy(base)).numpy()
    np.testing.assert_allclose(adapted, expected, atol=1e-5)
    # passages are untouched: the index needs no re-embedding
    assert pipeline.query_embedder.name == train_pipeline.store.embedder
    np.testing.assert_array_equal(pipeline.query_embedder.encode_passages(texts),
                                  train_pipeline.embedder.encode_passages(texts))
    assert pipeline.retrieve(texts[0], k=3)


def test_training_into_a_used_folder_is_refused(query_adapter, train_pipeline, squad_slice):
    from ragtune.train.retriever import train_retriever

    with pytest.raises(RagtuneError, match="is not empty"):
        train_retriever(train_pipeline, squad_slice, query_adapter.out, progress=False)


# --------------------------------------------------------------------------- a re-trained sentence-transformers encoder


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def minilm_pipeline(tmp_path_factory, squad_slice) -> Pipeline:
    """The SQuAD slice indexed with a sentence-transformers embedder, whose encoder can be tuned whole."""
    config = Config(embedder={"name": "all-minilm-l6-v2"}, retrieval={"reranker": "none"},
                    train_retriever={"max_steps": 2, "batch_size": 4, "hard_negatives": 1, "max_length": 64})
    pipeline = Pipeline(tmp_path_factory.mktemp("minilm") / "index", config, progress=False)
    pipeline.read([squad_slice])
    return pipeline


def test_one_encoder_step_lowers_the_contrastive_loss_on_its_batch(minilm_pipeline, squad_slice):
    from ragtune.train.encoder import encoder_loss, encoder_step, load_encoder

    questions, _, examples = _mined(minilm_pipeline, squad_slice, hard_negatives=1)
    passages = minilm_pipeline.store.passages
    batch = make_batch(examples[:4], questions, passages)
    query_texts = [q.text for q in questions]
    passage_texts = [p.embedding_text for p in passages]
    torch.manual_seed(0)  # the step itself runs with dropout
    model = load_encoder(minilm_pipeline.store.embedder)
    model.eval()  # no dropout: the two losses compare like for like
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    with torch.no_grad():
        before = encoder_loss(model, batch, query_texts, passage_texts, 0.05).item()
    encoder_step(model, optimizer, batch, query_texts, passage_texts, 0.05)
    model.eval()
    with torch.no_grad():
        after = encoder_loss(model, batch, query_texts, passage_texts, 0.05).item()
    assert after < before


def test_encoder_adapter_needs_reembedding_first(tmp_path, minilm_pipeline, squad_slice):
    from ragtune.train.retriever import train_retriever

    config = minilm_pipeline.config
    index = tmp_path / "index"
    shutil.copytree(minilm_pipeline.index_dir, index)  # re-embedded below: the shared index stays as it is
    pipeline = Pipeline(index, config, embedder=minilm_pipeline.embedder, progress=False)
    result = train_retriever(pipeline, squad_slice, tmp_path / "adapter", progress=False)
    assert result.kind == ENCODER
    info = inspect_adapter(result.out)
    assert info.meta["reembed_required"] and (result.out / "encoder" / "config.json").is_file()

    refused = ragtune("ask", "Who led the Mongol Empire?", "--index", index, "--adapter", result.out)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert f"run `ragtune read --reembed --embedder {result.out / 'encoder'} --index {index}` first" in refused.stderr

    before = index_version(index)
    done = ragtune("read", "--reembed", "--embedder", result.out / "encoder", "--index", index)
    assert done.returncode == 0, done.stderr
    store = open_index(index)
    assert index_version(index) != before  # a new state, committed at once
    assert store.embedder == str((result.out / "encoder").resolve()) and len(store) == len(pipeline.store)

    tuned = Pipeline(index, config, adapter=result.out, progress=False)
    question = "Who led the Mongol Empire?"
    assert tuned.retrieve(question, k=3)
    from ragtune.train.encoder import load_encoder

    encoder = load_encoder(str(result.out / "encoder"))
    assert encoder.max_seq_length == pipeline.embedder.model.max_seq_length  # the training cut-off is not saved
    expected = encoder.encode([question], normalize_embeddings=True)
    np.testing.assert_allclose(tuned.query_embedder.encode_queries([question]), expected, atol=1e-4)
    base = pipeline.embedder.encode_queries([question])
    assert not np.allclose(base, expected, atol=1e-4)


# --------------------------------------------------------------------------- what an adapter folder is


def test_adapter_folders_are_told_apart_by_their_files(tmp_path):
    from ragtune.adapters import GENERATOR

    peft = tmp_path / "peft"
    peft.mkdir()
    (peft / "adapter_config.json").write_text("{}")
    (peft / "ragtune.json").write_text(json.dumps({"base_model": "qwen2.5-0.5b-instruct"}))
    assert inspect_adapter(peft).kind == GENERATOR
    assert Pipeline(tmp_path / "index", adapter=peft).generator_adapter == peft
    with pytest.raises(RagtuneError, match="not an adapter folder"):
        inspect_adapter(tmp_path)
    with pytest.raises(RagtuneError, match="no such adapter folder"):
        inspect_adapter(tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ragtune.json").write_text(json.dumps({"kind": "retriever", "retriever": QUERY_ADAPTER}))
    with pytest.raises(RagtuneError, match=QUERY_ADAPTER_FILE):
        inspect_adapter(broken)


def test_a_query_adapter_for_another_embedder_is_refused(query_adapter, train_pipeline, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(query_adapter.out, other)
    meta = json.loads((other / "ragtune.json").read_text())
    (other / "ragtune.json").write_text(json.dumps({**meta, "embedder": "bge-small-en"}))
    with pytest.raises(RagtuneError, match="trained for embedder 'bge-small-en'"):
        _ = _with(train_pipeline, adapter=other).query_embedder


def test_fusion_fit_follows_the_retriever_that_ranks_the_positive_first():
    from ragtune.train.fusion_fit import _Pool, fit_dense_weight

    # dense ranks the positive first, BM25 third: any weight that lets dense win is better than BM25 alone
    dense_right = [_Pool(["a", "b", "c"], np.array([1.0, 0.5, 0.0]), np.array([0.0, 1.0, 0.9]),
                         np.array([True, False, False])) for _ in range(20)]
    fit = fit_dense_weight(dense_right, default=0.4)
    assert fit["dense_weight"] > 1.0 and fit["fitted_mrr@10"] == 1.0 and fit["default_mrr@10"] < 1.0
    # BM25 is right and dense wrong: the default (already BM25-led) is kept, not moved on a tie
    bm25_right = [_Pool(["a", "b"], np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.array([True, False]))] * 20
    assert fit_dense_weight(bm25_right, default=0.4)["dense_weight"] == 0.4
    # a gain of one question in 20 or less is noise: the default stays
    both_right = [_Pool(["a", "b"], np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([True, False]))] * 19
    noisy = fit_dense_weight(dense_right[:1] + both_right, default=0.4)
    assert noisy["grid"]["3.0"] > noisy["default_mrr@10"]
    assert noisy["dense_weight"] == 0.4
