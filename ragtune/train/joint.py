"""`ragtune train joint`: the query adapter and the generator's LoRA trained together on the RAG marginal likelihood.

For each question the frozen index's retriever (no reranker) gives k candidate passages; p(z|q) is the softmax of
the adapted query vector's cosine with each stored passage vector over a temperature, and the generator scores the
answer once per candidate, from ask's prompt holding only that passage. The loss -log Σ_z p(z|q) p(y|q,z)
(RAG-Sequence) or its per-token form (RAG-Token) sends gradients into both halves: the generator learns to answer
from the passage, the retriever to put mass on passages the generator can answer from. Passage vectors never
change, so the index stays valid and `ask --adapter OUT` applies both halves at once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ragtune.adapters import JOINT, QUERY_ADAPTER, QUERY_ADAPTER_FILE, AdapterMeta, write_meta
from ragtune.config import Config, JointTrainConfig
from ragtune.errors import RagtuneError
from ragtune.files import atomic_dir, file_sha256
from ragtune.pipeline import Pipeline
from ragtune.read.questions import Question
from ragtune.train.batches import collate, shuffled_batches, target_tokens
from ragtune.train.checkpoint import CHECKPOINT, check_out
from ragtune.train.examples import TrainExample, contains_answer, load_short_questions
from ragtune.train.loop import LoopSettings, TrainingLoop, TrainingTask
from ragtune.train.model import add_lora, autocast, label_logprobs, training_base
from ragtune.train.query_adapter import QueryAdapter
from ragtune.train.rag_loss import doc_entropy, rag_sequence_nll, rag_token_nll, sequence_logprobs
from ragtune.train.tokenize import Encoded, encode_example


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


# --------------------------------------------------------------------------- the task


def _optimizer(model: JointModel, tc: JointTrainConfig) -> torch.optim.AdamW:
    """AdamW with its own learning rate per half (the loop's schedule scales both alike)."""
    lora = [p for p in model.generator.parameters() if p.requires_grad]
    groups = [{"params": lora, "lr": tc.lr, "weight_decay": 0.0},
              {"params": list(model.query_adapter.parameters()), "lr": tc.query_lr,
               "weight_decay": tc.query_weight_decay}]
    if model.log_temperature.requires_grad:
        groups.append({"params": [model.log_temperature], "lr": tc.query_lr, "weight_decay": 0.0})
    return torch.optim.AdamW(groups)


class JointTask(TrainingTask):
    """Questions → the RAG marginal loss of their candidates; every `log_every` steps the window's running means
    (per-token loss, p(z|q) entropy, gold rank, gold in the top k) and the temperature go into the history."""

    def __init__(self, model: JointModel, items: list[JointItem], query_vectors: np.ndarray,
                 passage_vectors: np.ndarray, config: Config, pad_id: int, fingerprint: dict):
        self.model, self.items, self.tc, self.bf16 = model, items, config.train_joint, config.train.bf16
        self.query_vectors, self.passage_vectors = query_vectors, passage_vectors
        self.pad_id, self.device = pad_id, next(model.generator.parameters()).device
        self.optimizer = _optimizer(model, self.tc)
        self.window = _Stats()
        self.pending: list[tuple] = []  # this step's statistics, counted once its update is done
        self._fingerprint = fingerprint
        self.total = 0

    def settings(self) -> LoopSettings:
        tc = self.tc
        self.total = tc.max_steps or max(1, math.ceil(tc.epochs * len(self.items) / tc.batch_size))
        return LoopSettings(total_steps=self.total,
                            max_grad_norm=tc.max_grad_norm, warmup_ratio=tc.warmup_ratio, eval_every=tc.log_every,
                            save_every=tc.log_every, description=f"training joint (RAG-{tc.mode})",
                            progress_every=max(1, tc.log_every // 5))

    # ---- data and loss ------------------------------------------------------------------
    def batches(self, epoch: int) -> list[list[int]]:
        return shuffled_batches(len(self.items), self.tc.batch_size, self.tc.seed, epoch)

    def pieces(self, batch: list[int]) -> list[JointItem]:
        return [self.items[i] for i in batch]  # one question's k prompts go forward together

    def weight(self, item: JointItem) -> int:
        return target_tokens(item.encoded[0])  # the same answer in every prompt

    def loss(self, item: JointItem) -> torch.Tensor:
        query = torch.from_numpy(self.query_vectors[item.query].astype(np.float32)).to(self.device)
        passages = torch.from_numpy(self.passage_vectors[item.rows]).to(self.device)
        loss, doc_logits, n_tokens = self.model.nll(self.tc.mode, query, passages, item.encoded, self.pad_id,
                                                    self.bf16)
        rank = gold_rank(doc_logits, item.gold)
        self.pending.append((loss.item() / max(n_tokens, 1), n_tokens, float(doc_entropy(doc_logits.detach())), rank))
        return loss

    def after_step(self) -> None:
        for loss, n_tokens, entropy, rank in self.pending:
            self.window.add("loss", loss, n_tokens)
            self.window.add("entropy", entropy)
            self.window.add("gold_in_k", float(rank is not None))
            self.window.add("gold_rank", rank)
        self.pending = []

    # ---- history ------------------------------------------------------------------------
    def evaluate(self, train_loss: float | None) -> dict:
        entry = {**self.window.means(), "temperature": round(self.model.temperature, 5)}
        self.window = _Stats()
        return entry

    def describe(self, entry: dict) -> str:
        rank = "-" if entry["gold_rank"] is None else f"{entry['gold_rank']:.2f}"
        loss = "-" if entry["loss"] is None else f"{entry['loss']:.3f}"
        return (f"joint: step {entry['step']}/{self.total}, loss {loss}, p(z|q) entropy {entry['entropy']:.2f}, "
                f"gold rank {rank}, temperature {entry['temperature']:.3f}")

    def postfix(self, loop: TrainingLoop) -> dict[str, str]:
        means = self.window.means()
        if means["loss"] is None:
            return {}
        return {"loss": f"{means['loss']:.3f}", "H": f"{means['entropy']:.2f}",
                "gold_rank": "-" if means["gold_rank"] is None else f"{means['gold_rank']:.2f}",
                "T": f"{self.model.temperature:.3f}"}

    # ---- checkpoint ---------------------------------------------------------------------
    def fingerprint(self) -> dict:
        return self._fingerprint

    def state(self) -> dict:
        """Trainable weights (LoRA, query adapter, temperature) and the running window."""
        weights = {name: p.detach().clone() for name, p in self.model.named_parameters() if p.requires_grad}
        weights["log_temperature"] = self.model.log_temperature.detach().clone()
        return {"weights": weights, "window": {"sums": dict(self.window.sums), "counts": dict(self.window.counts)}}

    def load(self, folder: Path, state: dict) -> None:
        missing = set(state["weights"]) - {name for name, _ in self.model.named_parameters()}
        if missing:
            raise RagtuneError(f"{folder.parent}: the checkpoint does not fit this model ({sorted(missing)[0]})")
        self.model.load_state_dict(state["weights"], strict=False)
        self.window = _Stats()
        self.window.sums.update(state["window"]["sums"])
        self.window.counts.update(state["window"]["counts"])


# --------------------------------------------------------------------------- the run


def train_joint(pipeline: Pipeline, data: str | Path, out: str | Path, *, resume: bool = False,
                progress: bool = True, stop_after: int | None = None) -> JointTrainResult | None:
    """Train on `data`'s questions against `pipeline`'s index; write LoRA + query adapter + ragtune.json to OUT.

    Every `log_every` steps a checkpoint goes to OUT/checkpoint/, and `resume=True` continues from it exactly
    (a CMRC run takes hours on 2 cores). `stop_after` ends the run after that many steps as an interruption
    would (returns None), so resuming can be tested."""
    config = pipeline.config
    data, out = Path(data).expanduser(), Path(out).expanduser()
    check_out(out, resume)
    questions, skipped_long = load_short_questions(data, config.train.max_answer_units)
    if len(pipeline.store) < 2:
        raise RagtuneError(f"{pipeline.index_dir}: joint training needs at least 2 indexed passages")
    tokenizer, base, stops = training_base(config, config.train_joint.seed, config.train_joint)
    items, query_vectors = prepare_items(pipeline, questions, tokenizer, stops, config.train_joint, progress)
    if not items:
        raise RagtuneError(f"{data}: no question retrieved 2 or more passages from {pipeline.index_dir}")
    task = _task(pipeline, base, tokenizer, items, query_vectors, file_sha256(data))
    loop = TrainingLoop(task, task.settings(), out / CHECKPOINT, progress)
    if resume:
        loop.restore()
    task.model.train()
    if not loop.run(stop_after):
        return None
    result = JointTrainResult(out, config.train_joint.mode, loop.total_steps, len(items), loop.history[0],
                              loop.history[-1], task.model.temperature, loop.train_seconds, loop.history,
                              skipped_long)
    _save(task.model, out, result, pipeline, data, task.fingerprint()["data_sha256"], len(questions))
    return result


def _task(pipeline: Pipeline, base, tokenizer, items: list[JointItem], query_vectors: np.ndarray,
          data_sha256: str) -> JointTask:
    """The LoRA-wrapped generator and a fresh query adapter over the index's stored passage vectors."""
    config = pipeline.config
    tc = config.train_joint
    passage_vectors = np.asarray(pipeline.store.vectors(), dtype=np.float32)
    model = JointModel(add_lora(base, config.train), passage_vectors.shape[1], tc.temperature, tc.learn_temperature)
    model.to(base.device)
    # a checkpoint resumes only the same run: same data, same settings, same candidates from the same index
    fingerprint = {"data_sha256": data_sha256, "settings": [tc.model_dump(mode="json"),
                                                            config.train.model_dump(mode="json")],
                   "candidates": [item.rows for item in items]}
    return JointTask(model, items, query_vectors, passage_vectors, config, tokenizer.pad_token_id, fingerprint)


def _save(model: JointModel, out: Path, result: JointTrainResult, pipeline: Pipeline, data: Path,
          data_sha256: str, n_questions: int) -> None:
    """PEFT files + query_adapter.safetensors + ragtune.json, appearing at OUT all at once."""
    config = pipeline.config
    with atomic_dir(out) as tmp:
        model.generator.save_pretrained(tmp)
        model.query_adapter.save(tmp / QUERY_ADAPTER_FILE)
        write_meta(tmp, AdapterMeta(
            kind=JOINT, retriever=QUERY_ADAPTER, embedder=pipeline.store.embedder,
            base_model=config.generator.name, mode=result.mode,
            temperature=round(result.temperature, 6),
            data=str(data), data_sha256=data_sha256,
            questions=n_questions, examples=result.questions, steps=result.steps,
            first=result.first, last=result.last, history=result.history,
            train_seconds=round(result.train_seconds, 2),
            config={"train_joint": config.train_joint.model_dump(mode="json"),
                    "train": config.train.model_dump(mode="json"),
                    "retrieval": config.retrieval.model_dump(mode="json")}))
