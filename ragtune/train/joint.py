"""`ragtune train joint`: the query adapter and the generator's LoRA trained together on the RAG marginal likelihood.

For each question the frozen index's retriever (no reranker) gives k candidate passages; p(z|q) is the softmax of
the adapted query vector's cosine with each stored passage vector over a temperature, and the generator scores the
answer once per candidate, from ask's prompt holding only that passage. The loss -log Σ_z p(z|q) p(y|q,z)
(RAG-Sequence) or its per-token form (RAG-Token) sends gradients into both halves: the generator learns to answer
from the passage, the retriever to put mass on passages the generator can answer from. Passage vectors never
change, so the index stays valid and `ask --adapter OUT` applies both halves at once.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ragtune.adapters import JOINT, META, QUERY_ADAPTER, QUERY_ADAPTER_FILE
from ragtune.config import JointTrainConfig
from ragtune.errors import RagtuneError
from ragtune.files import atomic_dir, file_sha256
from ragtune.pipeline import Pipeline
from ragtune.progress import progress_bar
from ragtune.read.questions import Question
from ragtune.train.batches import collate, target_tokens
from ragtune.train.checkpoint import (
    CHECKPOINT,
    capture_rng,
    check_out,
    load_state,
    restore_rng,
    save_state,
    seed_everything,
)
from ragtune.train.examples import TrainExample, contains_answer, load_short_questions
from ragtune.train.model import add_lora, autocast, label_logprobs, load_base
from ragtune.train.query_adapter import QueryAdapter
from ragtune.train.rag_loss import doc_entropy, rag_sequence_nll, rag_token_nll, sequence_logprobs
from ragtune.train.retriever import batch_plan
from ragtune.train.tokenize import Encoded, encode_example, stop_token_ids


@dataclass
class JointItem:
    """One question: its base query vector's row, the k candidate passage rows (retrieval order), which of them
    are gold, and one encoded prompt + answer per candidate."""

    question: Question
    query: int
    rows: list[int]
    gold: list[bool]
    encoded: list[Encoded]


@dataclass
class JointTrainResult:
    out: Path
    mode: str
    steps: int
    questions: int
    first: dict
    last: dict
    temperature: float
    train_seconds: float
    history: list[dict] = field(default_factory=list)
    #: questions skipped because all their answers are longer than train.max_answer_units
    skipped_long: int = 0


# --------------------------------------------------------------------------- data


def single_passage_example(question: Question, title: str, text: str, max_units: int) -> TrainExample:
    """ask's prompt with only this passage, the target cited as ask cites it: `answer [1]`."""
    return TrainExample(question.id, question.text, list(question.answers), [(title, text)],
                        f"{question.answers[0]} [1]", 1, max_units)


def is_gold(question: Question, passage) -> bool:
    """The question's own document (SQuAD paragraph, synth passage_id), else any passage holding an answer."""
    return passage.id == question.gold_id if question.gold_id else contains_answer(passage, question.answers)


def prepare_items(pipeline: Pipeline, questions: list[Question], tokenizer, stops: set[int],
                  tc: JointTrainConfig, progress: bool = False) -> tuple[list[JointItem], np.ndarray]:
    """Candidates from the frozen index (the base retriever, no reranker) and their encoded prompts;
    returns the items and the base query vectors they point into."""
    store = pipeline.store
    config = pipeline.config
    texts = [q.text for q in questions]
    vectors = pipeline.embedder.encode_queries([store.search_text(t) for t in texts], progress=progress)
    row_of = {(p.id, p.chunk): row for row, p in enumerate(store.passages)}
    items = []
    candidates = pipeline.retrieve_many(texts, tc.k, base=True, progress=progress)
    for i, (question, ranked) in enumerate(zip(questions, candidates, strict=True)):
        if len(ranked) < 2:
            continue  # one candidate: p(z|q) = 1, nothing for the retriever to learn
        encoded = [encode_example(tokenizer, single_passage_example(question, r.passage.title, r.passage.text,
                                                                    config.generator.max_passage_tokens),
                                  tc.max_length, stops) for r in ranked]
        items.append(JointItem(question, i, [row_of[(r.passage.id, r.passage.chunk)] for r in ranked],
                               [is_gold(question, r.passage) for r in ranked], encoded))
    return items, vectors


# --------------------------------------------------------------------------- the loss of one question


class JointModel(torch.nn.Module):
    """The two trainable halves and the temperature: LoRA-wrapped generator, query adapter, log temperature."""

    def __init__(self, generator, dim: int, temperature: float, learn_temperature: bool):
        super().__init__()
        self.generator = generator
        self.query_adapter = QueryAdapter(dim)
        self.log_temperature = torch.nn.Parameter(torch.tensor(math.log(temperature)),
                                                  requires_grad=learn_temperature)

    @property
    def temperature(self) -> float:
        return float(self.log_temperature.detach().exp())

    def doc_logits(self, query: torch.Tensor, passages: torch.Tensor) -> torch.Tensor:
        """(k,) scores of the candidates: cos(adapted query, stored passage) / temperature."""
        return passages @ self.query_adapter(query[None])[0] / self.log_temperature.exp()

    def answer_logprobs(self, encoded: list[Encoded], pad_id: int, bf16: bool | None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """(k, T) log p(y_t | q, z, y<t) for each candidate's prompt, and the (T,) mask of answer tokens."""
        with autocast(self.generator, bf16):
            token_logprobs, mask = label_logprobs(self.generator, *collate(encoded, pad_id))
        return token_logprobs.float(), mask[0]

    def nll(self, mode: str, query: torch.Tensor, passages: torch.Tensor, encoded: list[Encoded], pad_id: int,
            bf16: bool | None) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(negative log marginal likelihood, doc logits, answer tokens) of one question."""
        doc_logits = self.doc_logits(query, passages)
        token_logprobs, mask = self.answer_logprobs(encoded, pad_id, bf16)
        if mode == "token":
            loss = rag_token_nll(doc_logits, token_logprobs, mask)
        else:
            loss = rag_sequence_nll(doc_logits, sequence_logprobs(token_logprobs, mask))
        return loss, doc_logits, int(mask.sum())


def gold_rank(doc_logits: torch.Tensor, gold: list[bool]) -> int | None:
    """1-based position of the best-scored gold candidate in p(z|q) order; None when no candidate is gold."""
    order = torch.argsort(doc_logits.detach(), descending=True, stable=True).tolist()
    return next((n for n, row in enumerate(order, start=1) if gold[row]), None)


class _Stats:
    """Running means of what training logs: per-token loss, p(z|q) entropy, gold rank, share of gold in top k."""

    def __init__(self):
        self.sums = defaultdict(float)
        self.counts = defaultdict(int)

    def add(self, name: str, value: float | None, weight: int = 1) -> None:
        if value is not None:
            self.sums[name] += value * weight
            self.counts[name] += weight

    def means(self) -> dict[str, float | None]:
        names = ("loss", "entropy", "gold_rank", "gold_in_k")
        return {n: round(self.sums[n] / self.counts[n], 4) if self.counts[n] else None for n in names}


# --------------------------------------------------------------------------- the loop


def _save_checkpoint(folder: Path, model: JointModel, optimizer, scheduler, progress: dict) -> None:
    """Trainable weights (LoRA, query adapter, temperature), optimizer, schedule, RNG and where the run stands."""
    weights = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    weights["log_temperature"] = model.log_temperature.detach().clone()
    with atomic_dir(folder) as tmp:
        save_state(tmp, {"weights": weights, "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "rng": capture_rng(), **progress})


def _restore_checkpoint(folder: Path, model: JointModel, optimizer, scheduler, expect: dict) -> dict:
    """Loads what _save_checkpoint wrote into the fresh model/optimizer/schedule; returns where the run stood."""
    _, state = load_state(folder)
    for key, value in expect.items():
        if state.get(key) != value:
            raise RagtuneError(f"{folder.parent}: the checkpoint was made with other {key.replace('_', ' ')}; "
                               "train into a new --out")
    missing = set(state["weights"]) - {name for name, _ in model.named_parameters()}
    if missing:
        raise RagtuneError(f"{folder.parent}: the checkpoint does not fit this model ({sorted(missing)[0]})")
    model.load_state_dict(state["weights"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    restore_rng(state["rng"])
    return state


def train_joint(pipeline: Pipeline, data: str | Path, out: str | Path, *, resume: bool = False,
                progress: bool = True, stop_after: int | None = None) -> JointTrainResult | None:
    """Train on `data`'s questions against `pipeline`'s index; write LoRA + query adapter + ragtune.json to OUT.

    Every `log_every` steps a checkpoint goes to OUT/checkpoint/, and `resume=True` continues from it exactly
    (a CMRC run takes hours on 2 cores). `stop_after` ends the run after that many steps as an interruption
    would (returns None), so resuming can be tested."""
    config = pipeline.config
    tc = config.train_joint
    data, out = Path(data).expanduser(), Path(out).expanduser()
    check_out(out, resume)
    questions, skipped_long = load_short_questions(data, config.train.max_answer_units)
    store = pipeline.store
    if len(store) < 2:
        raise RagtuneError(f"{pipeline.index_dir}: joint training needs at least 2 indexed passages")
    if config.generator.threads:
        torch.set_num_threads(config.generator.threads)
    seed_everything(tc.seed)
    tokenizer, base = load_base(config)
    tokenizer.padding_side = "right"
    stops = stop_token_ids(tokenizer, getattr(getattr(base, "generation_config", None), "eos_token_id", None))
    items, query_vectors = prepare_items(pipeline, questions, tokenizer, stops, tc, progress)
    if not items:
        raise RagtuneError(f"{data}: no question retrieved 2 or more passages from {pipeline.index_dir}")
    passage_vectors = np.asarray(store.vectors.vectors(), dtype=np.float32)
    model = JointModel(add_lora(base, config.train), passage_vectors.shape[1], tc.temperature, tc.learn_temperature)
    device = base.device
    model.to(device)
    total = tc.max_steps or max(1, math.ceil(tc.epochs * len(items) / tc.batch_size))
    optimizer, scheduler = _optimizer(model, tc, total)
    plan = batch_plan(len(items), tc.batch_size, tc.seed)
    pad_id = tokenizer.pad_token_id
    bf16 = config.train.bf16
    # a checkpoint resumes only the same run: same data, same settings, same candidates from the same index
    expect = {"data_sha256": file_sha256(data), "settings": [tc.model_dump(mode="json"),
                                                             config.train.model_dump(mode="json")],
              "candidates": [item.rows for item in items]}
    history: list[dict] = []
    window, first, done, earlier_seconds = _Stats(), None, 0, 0.0
    if resume:
        state = _restore_checkpoint(out / CHECKPOINT, model, optimizer, scheduler, expect)
        done, history, first, earlier_seconds = state["step"], state["history"], state["first"], state["seconds"]
        for _ in range(done):
            next(plan)  # the data order goes on where it stopped
    start = time.perf_counter()
    model.train()
    bar = progress_bar(range(done + 1, total + 1), desc=f"training joint (RAG-{tc.mode})", unit="step",
                       enabled=progress, initial=done, total=total, every=max(1, tc.log_every // 5))
    for step in bar:
        batch = [items[i] for i in next(plan)]
        tokens = sum(target_tokens(item.encoded[0]) for item in batch)  # the same answer in every prompt
        for item in batch:
            query = torch.from_numpy(query_vectors[item.query].astype(np.float32)).to(device)
            passages = torch.from_numpy(passage_vectors[item.rows]).to(device)
            loss, doc_logits, n_tokens = model.nll(tc.mode, query, passages, item.encoded, pad_id, bf16)
            (loss / max(tokens, 1)).backward()
            rank = gold_rank(doc_logits, item.gold)
            window.add("loss", loss.item() / max(n_tokens, 1), n_tokens)
            window.add("entropy", float(doc_entropy(doc_logits.detach())))
            window.add("gold_in_k", float(rank is not None))
            window.add("gold_rank", rank)
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], tc.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        means = window.means()
        bar.set_postfix(loss=f"{means['loss']:.3f}", H=f"{means['entropy']:.2f}",
                        gold_rank="-" if means["gold_rank"] is None else f"{means['gold_rank']:.2f}",
                        T=f"{model.temperature:.3f}")
        if step % tc.log_every == 0 or step == total:
            history.append({"step": step, **means, "temperature": round(model.temperature, 5)})
            first = first or history[-1]
            bar.write(_describe(history[-1], total), file=sys.stderr)  # also shown when stderr is a log file
            window = _Stats()
            if step < total:
                _save_checkpoint(out / CHECKPOINT, model, optimizer, scheduler,
                                 {**expect, "step": step, "history": history, "first": first,
                                  "seconds": earlier_seconds + time.perf_counter() - start})
        if step == stop_after:
            bar.close()
            return None
    bar.close()
    seconds = earlier_seconds + time.perf_counter() - start
    result = JointTrainResult(out, tc.mode, total, len(items), first, history[-1], model.temperature, seconds,
                              history, skipped_long)
    _save(model, out, result, pipeline, data, expect["data_sha256"], len(questions))
    return result


def _describe(entry: dict, total: int) -> str:
    rank = "-" if entry["gold_rank"] is None else f"{entry['gold_rank']:.2f}"
    return (f"joint: step {entry['step']}/{total}, loss {entry['loss']:.3f}, p(z|q) entropy {entry['entropy']:.2f}, "
            f"gold rank {rank}, temperature {entry['temperature']:.3f}")


def _optimizer(model: JointModel, tc: JointTrainConfig, total: int):
    """AdamW with its own learning rate per half; linear warmup then linear decay for both."""
    lora = [p for p in model.generator.parameters() if p.requires_grad]
    groups = [{"params": lora, "lr": tc.lr, "weight_decay": 0.0},
              {"params": list(model.query_adapter.parameters()), "lr": tc.query_lr,
               "weight_decay": tc.query_weight_decay}]
    if model.log_temperature.requires_grad:
        groups.append({"params": [model.log_temperature], "lr": tc.query_lr, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups)
    warmup = round(tc.warmup_ratio * total)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _save(model: JointModel, out: Path, result: JointTrainResult, pipeline: Pipeline, data: Path,
          data_sha256: str, n_questions: int) -> None:
    """PEFT files + query_adapter.safetensors + ragtune.json, appearing at OUT all at once."""
    config = pipeline.config
    with atomic_dir(out) as tmp:
        model.generator.save_pretrained(tmp)
        model.query_adapter.save(tmp / QUERY_ADAPTER_FILE)
        meta = {
            "kind": JOINT, "retriever": QUERY_ADAPTER, "embedder": pipeline.store.embedder,
            "base_model": config.generator.name, "mode": result.mode,
            "temperature": round(result.temperature, 6),
            "data": str(data), "data_sha256": data_sha256,
            "questions": n_questions, "examples": result.questions, "steps": result.steps,
            "first": result.first, "last": result.last, "history": result.history,
            "train_seconds": round(result.train_seconds, 2),
            "config": {"train_joint": config.train_joint.model_dump(mode="json"),
                       "train": config.train.model_dump(mode="json"),
                       "retrieval": config.retrieval.model_dump(mode="json")},
        }
        (tmp / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
