"""Joint retriever + generator training on the real models: the RAG losses by hand, and the folder ask loads."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from ragtune.adapters import GENERATOR, JOINT, QUERY_ADAPTER, QUERY_ADAPTER_FILE, inspect_adapter, split_adapters
from ragtune.errors import RagtuneError
from ragtune.index.embedders.adapted import apply_query_adapter
from ragtune.pipeline import Pipeline
from ragtune.read.questions import Question
from ragtune.train.joint import JointModel, single_passage_example
from ragtune.train.model import load_base
from ragtune.train.rag_loss import rag_sequence_nll, rag_token_nll
from ragtune.train.tokenize import IGNORE, Encoded, encode_example, stop_token_ids

QUESTION = Question("q", "Who was Kublai Khan's grandfather?", ("Genghis Khan",))
PASSAGES = [("Yuan", "Kublai was a grandson of Genghis Khan and founded the Yuan dynasty."),
            ("Geology", "Geology is the study of the Earth, the rocks it is made of, and how they change.")]


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def _first_tokens(row: Encoded, n: int) -> Encoded:
    """The prompt and only the first `n` answer tokens labelled: the 2-token toy."""
    first = next(i for i, label in enumerate(row.labels) if label != IGNORE)
    return Encoded(row.input_ids[: first + n], row.labels[: first + n])


# --------------------------------------------------------------------------- the losses, by hand


def test_rag_losses_equal_the_marginal_computed_by_hand(train_config, embedder):
    tokenizer, base = load_base(train_config)
    base.eval()
    stops = stop_token_ids(tokenizer, base.generation_config.eos_token_id)
    rows = [_first_tokens(encode_example(tokenizer, single_passage_example(QUESTION, title, text, 320), 256, stops), 2)
            for title, text in PASSAGES]
    assert rows[0].labels[-2:] == rows[1].labels[-2:]  # the same answer tokens after each passage
    assert rows[0].input_ids != rows[1].input_ids and len(rows[0]) != len(rows[1])  # padding is exercised

    query = embedder.encode_queries([QUESTION.text])[0]
    passages = embedder.encode_passages([text for _, text in PASSAGES])
    weight = np.random.default_rng(0).normal(0, 0.05, (query.size, query.size)).astype(np.float32)
    model = JointModel(base, query.size, temperature=0.1, learn_temperature=True)
    with torch.no_grad():
        model.query_adapter.weight.copy_(torch.from_numpy(weight))
        doc_logits = model.doc_logits(torch.from_numpy(query), torch.from_numpy(passages))
        token_logprobs, mask = model.answer_logprobs(rows, tokenizer.pad_token_id, bf16=False)
        losses = {mode: model.nll(mode, torch.from_numpy(query), torch.from_numpy(passages), rows,
                                  tokenizer.pad_token_id, bf16=False)[0].item() for mode in ("sequence", "token")}

    # p(y_t | q, z, y<t): each passage's prompt alone through the model, log_softmax and gather by hand
    by_hand = []
    for row in rows:
        with torch.no_grad():
            logits = base(input_ids=torch.tensor([row.input_ids])).logits[0].double()
        positions = [i for i, label in enumerate(row.labels) if label != IGNORE]
        by_hand.append([torch.log_softmax(logits[i - 1], -1)[row.input_ids[i]].item() for i in positions])
    np.testing.assert_allclose(token_logprobs.numpy(), by_hand, atol=2e-4)
    assert mask.tolist() == [1.0, 1.0]

    # p(z | q): softmax of cos(q', d) / temperature, q' = normalize(q + W q)
    adapted = query + weight @ query
    adapted /= np.linalg.norm(adapted)
    scores = [float(adapted @ d) / 0.1 for d in passages]
    np.testing.assert_allclose(doc_logits.numpy(), scores, atol=1e-4)
    prior = [math.exp(s) / sum(math.exp(t) for t in scores) for s in scores]

    sequence = -math.log(sum(p * math.exp(lp[0] + lp[1]) for p, lp in zip(prior, by_hand)))
    token = -sum(math.log(sum(p * math.exp(lp[t]) for p, lp in zip(prior, by_hand))) for t in range(2))
    assert losses["sequence"] == pytest.approx(sequence, abs=1e-3)
    assert losses["token"] == pytest.approx(token, abs=1e-3)
    assert abs(sequence - token) > 1e-3  # the two modes really differ on this toy

    # the pure functions on the same numbers, in float64
    lp = torch.tensor(by_hand, dtype=torch.float64)
    logits64 = torch.tensor(scores, dtype=torch.float64)
    assert rag_sequence_nll(logits64, lp.sum(-1)).item() == pytest.approx(sequence, rel=1e-12)
    assert rag_token_nll(logits64, lp, torch.ones(2, dtype=torch.float64)).item() == pytest.approx(token, rel=1e-12)


def test_masked_answer_tokens_do_not_count():
    logits = torch.tensor([0.3, -0.2])
    lp = torch.tensor([[-1.0, -2.0, -7.0], [-0.5, -3.0, -9.0]])
    mask = torch.tensor([1.0, 1.0, 0.0])
    assert rag_token_nll(logits, lp, mask).item() == pytest.approx(rag_token_nll(logits, lp[:, :2],
                                                                                  mask[:2]).item())


# --------------------------------------------------------------------------- a short run and the folder ask loads


@pytest.fixture(scope="module")
def joint_pipeline(train_pipeline):
    """A two-step, two-candidate joint run that checkpoints after every step."""
    config = train_pipeline.config.model_copy(update={"train_joint": train_pipeline.config.train_joint.model_copy(
        update={"k": 2, "max_steps": 2, "batch_size": 1, "max_length": 192, "log_every": 1, "lr": 1e-3,
                "query_lr": 1e-2})})
    pipeline = Pipeline(train_pipeline.index_dir, config, embedder=train_pipeline.embedder, progress=False)
    return pipeline


@pytest.fixture(scope="module")
def joint(tmp_path_factory, joint_pipeline, squad_slice):
    from ragtune.train.joint import train_joint

    out = tmp_path_factory.mktemp("joint") / "adapter"
    return train_joint(joint_pipeline, squad_slice, out, progress=False)


def test_joint_run_writes_lora_query_adapter_and_history(joint, train_pipeline):
    out = joint.out
    assert joint.steps == 2 and joint.mode == "sequence"
    info = inspect_adapter(out)
    assert info.kind == JOINT and info.is_generator and info.is_retriever and info.retriever_kind == QUERY_ADAPTER
    assert (out / "adapter_model.safetensors").is_file() and (out / QUERY_ADAPTER_FILE).is_file()
    meta = json.loads((out / "ragtune.json").read_text())
    assert meta["embedder"] == train_pipeline.store.embedder and meta["base_model"] == "qwen2.5-0.5b-instruct"
    assert [h["step"] for h in meta["history"]] == [1, 2]
    for entry in meta["history"]:
        assert entry["loss"] > 0 and 0 <= entry["entropy"] <= math.log(2) + 1e-6
        assert entry["gold_in_k"] is not None and (entry["gold_rank"] is None or entry["gold_rank"] in (1, 2))
    assert meta["temperature"] != pytest.approx(0.05, abs=1e-6)  # learned
    assert not list(out.parent.glob(".adapter.tmp-*"))


def test_an_interrupted_run_resumes_to_the_same_adapter(tmp_path, monkeypatch, joint, joint_pipeline, squad_slice):
    from safetensors.torch import load_file

    from ragtune.train.joint import CHECKPOINT, train_joint

    out = tmp_path / "adapter"
    assert train_joint(joint_pipeline, squad_slice, out, progress=False, stop_after=1) is None
    assert (out / CHECKPOINT).is_dir() and not (out / "ragtune.json").exists()
    with pytest.raises(RagtuneError, match="--resume"):
        train_joint(joint_pipeline, squad_slice, out, progress=False)
    steps, nll = [], JointModel.nll
    monkeypatch.setattr(JointModel, "nll", lambda self, *a: steps.append(1) or nll(self, *a))
    resumed = train_joint(joint_pipeline, squad_slice, out, resume=True, progress=False)
    assert len(steps) == 1  # one question per step: only step 2 ran again
    assert resumed.history == joint.history and resumed.temperature == joint.temperature
    for name in ("adapter_model.safetensors", QUERY_ADAPTER_FILE):
        done, again = load_file(joint.out / name), load_file(out / name)
        assert done.keys() == again.keys() and all(torch.equal(done[k], again[k]) for k in done)
    assert not (out / CHECKPOINT).exists()  # the finished folder holds only the adapter
    with pytest.raises(RagtuneError, match="nothing to resume"):
        train_joint(joint_pipeline, squad_slice, tmp_path / "fresh", resume=True, progress=False)


def test_joint_folder_applies_both_halves_through_pipeline(joint, train_pipeline):
    from peft import PeftModel
    from safetensors.numpy import load_file
    from safetensors.torch import load_file as load_torch

    config = train_pipeline.config.model_copy(update={"generator": train_pipeline.config.generator.model_copy(
        update={"max_new_tokens": 8, "backend": "torch"})})  # the PEFT weights are checked in the torch model
    pipeline = Pipeline(train_pipeline.index_dir, config, adapter=joint.out, embedder=train_pipeline.embedder,
                        progress=False)
    assert pipeline.generator_adapter == joint.out and pipeline.retriever_adapter.kind == JOINT

    texts = ["Who led the Mongol Empire?", "When did Project Apollo end?"]
    base = train_pipeline.embedder.encode_queries(texts)
    adapted = pipeline.retriever.embedder.encode_queries(texts)
    weight = load_file(str(joint.out / QUERY_ADAPTER_FILE))["weight"]
    np.testing.assert_allclose(adapted, apply_query_adapter(base, weight), atol=1e-6)
    assert not np.allclose(adapted, base, atol=1e-4)

    model = pipeline.generator.model
    assert isinstance(model, PeftModel)
    saved = load_torch(str(joint.out / "adapter_model.safetensors"))
    loaded = {n: p for n, p in model.named_parameters() if "lora_B" in n}
    name = next(n for n in saved if "lora_B" in n)
    match = next(p for n, p in loaded.items() if n.replace(".default", "") == name)
    assert saved[name].abs().sum() > 0
    torch.testing.assert_close(match.detach().float(), saved[name].float(), atol=1e-2, rtol=1e-2)  # bf16 at ask
    assert pipeline.ask("Who was Kublai Khan's grandfather?").sources


def test_separate_adapters_combine_one_per_side(tmp_path, joint):
    peft = tmp_path / "peft"
    peft.mkdir()
    (peft / "adapter_config.json").write_text("{}")
    retriever = tmp_path / "retriever"
    retriever.mkdir()
    (retriever / QUERY_ADAPTER_FILE).write_bytes((joint.out / QUERY_ADAPTER_FILE).read_bytes())
    (retriever / "ragtune.json").write_text(json.dumps({"kind": "retriever", "retriever": QUERY_ADAPTER}))
    generator, query, reader = split_adapters([inspect_adapter(peft), inspect_adapter(retriever)])
    assert generator.kind == GENERATOR and query.kind == QUERY_ADAPTER and reader is None
    pipeline = Pipeline(tmp_path / "index", adapter=[peft, retriever])
    assert pipeline.generator_adapter == peft and pipeline.retriever_adapter.folder == retriever
    with pytest.raises(RagtuneError, match="both tune the generator"):
        split_adapters([inspect_adapter(peft), inspect_adapter(joint.out)])
    with pytest.raises(RagtuneError, match="both tune the retriever"):
        split_adapters([inspect_adapter(retriever), inspect_adapter(joint.out)])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ragtune.json").write_text(json.dumps({"kind": "joint"}))
    with pytest.raises(RagtuneError, match="joint adapter without"):
        inspect_adapter(broken)


# --------------------------------------------------------------------------- the CLI


def test_cli_help_and_one_line_errors(train_pipeline, tmp_path):
    shown = ragtune("train", "joint", "--help")
    assert shown.returncode == 0 and "--mode" in shown.stdout and "--max-steps" in shown.stdout
    missing = ragtune("train", "joint", tmp_path / "missing.json", "--index", train_pipeline.index_dir,
                      "--out", tmp_path / "out")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert [line for line in missing.stderr.splitlines() if line.strip()] == [
        f"error: {tmp_path / 'missing.json'}: no such file or directory"]
    bad_mode = ragtune("train", "joint", tmp_path / "missing.json", "--index", train_pipeline.index_dir,
                       "--out", tmp_path / "out", "--mode", "both")
    assert bad_mode.returncode == 1 and len(bad_mode.stderr.strip().splitlines()) == 1
    assert "train_joint.mode" in bad_mode.stderr and not (tmp_path / "out").exists()
