"""`ragtune train retriever`: contrastive fine-tuning of the embedder against the current index.

A frozen embedder (the numpy USE default, ONNX models) gets a query-side adapter: the stored passage vectors
stay valid and `ask --adapter OUT` uses it at once. A sentence-transformers embedder may be tuned whole: OUT
then holds `encoder/`, and the corpus must be re-embedded with it before ask/eval accept the adapter.
Training checkpoints into OUT/checkpoint/ (`--resume` continues exactly); the finished adapter replaces OUT
atomically (a temporary sibling renamed into place).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ragtune.adapters import ENCODER, ENCODER_DIR, QUERY_ADAPTER, QUERY_ADAPTER_FILE, AdapterMeta, write_meta
from ragtune.config import RetrieverTrainConfig
from ragtune.errors import RagtuneError
from ragtune.files import atomic_dir, file_sha256
from ragtune.index.embedders import Embedder
from ragtune.index.embedders.sentence_transformer import SentenceTransformerEmbedder
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions
from ragtune.train.batches import shuffled_batches
from ragtune.train.checkpoint import CHECKPOINT, check_out
from ragtune.train.loop import LoopSettings, TrainingLoop, TrainingTask, start_run
from ragtune.train.negatives import ContrastiveBatch, RetrieverExample, make_batch, mine_examples

#: gradient norm a whole encoder is clipped to
ENCODER_MAX_GRAD_NORM = 1.0


@dataclass
class RetrieverTrainResult:
    out: Path
    kind: str
    steps: int
    questions: int
    examples: int
    loss_first: float
    loss_last: float
    train_seconds: float
    #: query adapter only: held-out questions, dense MRR@10 of the base and of the kept step, which step
    heldout: dict | None = None
    #: query adapter only: the dense/BM25 fusion weight fitted on the held-out questions (train/fusion_fit.py)
    fusion: dict | None = None


def choose_kind(setting: str, embedder: Embedder) -> str:
    """`train_retriever.adapter` resolved for this embedder: only sentence-transformers models can be tuned whole."""
    trainable = isinstance(embedder, SentenceTransformerEmbedder)
    if setting == "auto":
        return ENCODER if trainable else QUERY_ADAPTER
    if setting == "encoder" and not trainable:
        raise RagtuneError(f"embedder {embedder.name!r} is not a sentence-transformers model, so only its query "
                           "side can be tuned (train_retriever.adapter: query)")
    return ENCODER if setting == "encoder" else QUERY_ADAPTER


def held_out(examples: list[RetrieverExample], n_questions: int, fraction: float, seed: int,
             document_of: Callable[[int], str]) -> tuple[list[RetrieverExample], list[RetrieverExample]]:
    """(train, held out) examples: about `fraction` of the questions (none below 10 questions), held out by
    *document*: every question about a held-out document is held out, so the query adapter never saw the
    held-out questions' passages as positives. Held out by question, the adapter looked better on them than on
    new documents, and the fusion weight fitted there was too high (BENCHMARKS.md, 2026-12-01)."""
    count = round(fraction * n_questions) if n_questions >= 10 else 0
    questions_of: dict[str, set[int]] = {}
    for example in examples:
        questions_of.setdefault(document_of(example.positive), set()).add(example.query)
    documents = sorted(questions_of)
    random.Random(f"{seed}/heldout").shuffle(documents)
    held: set[int] = set()
    for doc in documents:
        if len(held) >= count:
            break
        held |= questions_of[doc]
    return [e for e in examples if e.query not in held], [e for e in examples if e.query in held]


def train_retriever(pipeline: Pipeline, data: str | Path, out: str | Path, *, split: str | None = None,
                    resume: bool = False, progress: bool = True, stop_after: int | None = None
                    ) -> RetrieverTrainResult | None:
    """Mine hard negatives from `pipeline`'s index for `data`'s questions, train, write the adapter to OUT.

    Every `save_every` steps a checkpoint goes to OUT/checkpoint/, and `resume=True` continues from it exactly.
    `stop_after` ends the run after that many steps as an interruption would (returns None)."""
    tc = pipeline.config.train_retriever
    data, out = Path(data).expanduser(), Path(out).expanduser()
    check_out(out, resume)
    questions = load_questions(data, split or "train", answered=not Path(data).expanduser().is_dir())
    kind = choose_kind(tc.adapter, pipeline.embedder)
    query_vectors, examples, held = _mine(pipeline, data, questions, kind, progress)
    start_run(tc.seed)
    data_sha256 = file_sha256(data) if data.is_file() else None
    task = _task(pipeline, kind, questions, query_vectors, examples, held, data_sha256)
    loop = TrainingLoop(task, task.settings(), out / CHECKPOINT, progress)
    if resume:
        loop.restore()
    if not loop.run(stop_after):
        return None
    with atomic_dir(out) as tmp:
        heldout = task.finish(tmp, loop)
        fusion = None
        if held and pipeline.config.retrieval.fusion == "linear":  # the fitted weight is a linear one
            fusion = _fit_fusion(pipeline, tmp, held, questions, query_vectors)
        losses = loop.step_losses
        head, tail = losses[: max(1, len(losses) // 10)], losses[-max(1, len(losses) // 10):]
        result = RetrieverTrainResult(out, kind, loop.total_steps, len(questions), len(examples),
                                      float(np.mean(head)), float(np.mean(tail)), loop.train_seconds, heldout, fusion)
        _write_meta(tmp, pipeline, result, data, data_sha256)
    return result


def _mine(pipeline: Pipeline, data: Path, questions: list, kind: str, progress: bool
          ) -> tuple[np.ndarray, list[RetrieverExample], list[RetrieverExample]]:
    """(base query vectors, training examples, held-out examples): positives and hard negatives from the index."""
    tc = pipeline.config.train_retriever
    store = pipeline.store
    query_vectors = pipeline.embedder.encode_queries([store.search_text(q.text) for q in questions],
                                                     progress=progress)
    examples = mine_examples(store, questions, query_vectors, hard_negatives=tc.hard_negatives, depth=tc.mine_depth)
    if not examples:
        raise RagtuneError(f"{data}: no question's positive passage is in the index at {pipeline.index_dir} "
                           "(index the data's passages with `ragtune read` first)")
    held: list[RetrieverExample] = []
    if kind == QUERY_ADAPTER:  # cheap to score on stored vectors; a whole encoder would need the corpus re-encoded
        examples, held = held_out(examples, len(questions), tc.eval_fraction, tc.seed,
                                  lambda row: store.passages[row].id)
    return query_vectors, examples, held


def _task(pipeline: Pipeline, kind: str, questions: list, query_vectors: np.ndarray,
          examples: list[RetrieverExample], held: list[RetrieverExample], data_sha256: str | None) -> _RetrieverTask:
    tc = pipeline.config.train_retriever
    store = pipeline.store
    # a checkpoint resumes only the same run: same data, same settings, same mined examples
    fingerprint = {"data_sha256": data_sha256, "settings": tc.model_dump(mode="json"),
                   "examples": [[e.query, e.positive, *e.negatives] for e in examples]}
    if kind == QUERY_ADAPTER:
        return QueryAdapterTask(examples, held, questions, query_vectors, store.passages,
                                np.asarray(store.vectors()), tc, fingerprint)
    return EncoderTask(examples, questions, store, pipeline.embedder, tc, fingerprint)


def _write_meta(folder: Path, pipeline: Pipeline, result: RetrieverTrainResult, data: Path,
                data_sha256: str | None) -> None:
    kind = result.kind
    write_meta(folder, AdapterMeta(
        kind=kind, retriever=kind, embedder=pipeline.store.embedder,
        reembed_required=kind == ENCODER, **({"encoder": ENCODER_DIR} if kind == ENCODER else {}),
        data=str(data), data_sha256=data_sha256,
        questions=result.questions, examples=result.examples, steps=result.steps,
        loss_first=round(result.loss_first, 4), loss_last=round(result.loss_last, 4),
        heldout=result.heldout, fusion=result.fusion, train_seconds=round(result.train_seconds, 2),
        config=pipeline.config.train_retriever.model_dump(mode="json")))


def _fit_fusion(pipeline: Pipeline, tmp: Path, held: list[RetrieverExample], questions, query_vectors) -> dict:
    """The fusion weight that serves the *adapted* queries best on the held-out questions."""
    from ragtune.index.embedders.adapted import apply_query_adapter, load_query_weight
    from ragtune.train.fusion_fit import candidate_pools, fit_dense_weight

    store = pipeline.store
    weight = load_query_weight(tmp / QUERY_ADAPTER_FILE, store.dim)
    held_queries = sorted({e.query for e in held})
    positives = [set(questions[q].positive_ids) or {store.passages[e.positive].id for e in held if e.query == q}
                 for q in held_queries]
    vectors = apply_query_adapter(query_vectors[held_queries], weight)
    # the base pipeline's retriever: its fusion settings and candidate pool (the weight is what is fitted)
    retriever = pipeline.base_retriever
    pools = candidate_pools(retriever, [questions[q].text for q in held_queries], vectors, positives)
    default = retriever.config.dense_weight
    return fit_dense_weight(pools, default)


# --------------------------------------------------------------------------- the tasks


class _RetrieverTask(TrainingTask):
    """Contrastive batches of mined examples, reshuffled each epoch; the model is the subclass's."""

    description = "training retriever"

    def __init__(self, examples: list[RetrieverExample], questions, passages, tc: RetrieverTrainConfig,
                 fingerprint: dict):
        self.examples, self.questions, self.passages, self.tc = examples, questions, passages, tc
        self._fingerprint = fingerprint

    def settings(self) -> LoopSettings:
        tc = self.tc
        return LoopSettings(total_steps=tc.max_steps or max(1, math.ceil(tc.epochs * len(self.examples) /
                                                                          tc.batch_size)),
                            save_every=tc.save_every, description=self.description)

    def batches(self, epoch: int) -> list[list[int]]:
        return shuffled_batches(len(self.examples), self.tc.batch_size, self.tc.seed, epoch)

    def contrastive_batch(self, rows: list[int] | ContrastiveBatch) -> ContrastiveBatch:
        if isinstance(rows, ContrastiveBatch):  # a data-parallel rank's share, already made (`split`)
            return rows
        return make_batch([self.examples[i] for i in rows], self.questions, self.passages)

    def split(self, rows: list[int], parts: int) -> list[tuple[ContrastiveBatch, float] | None]:
        """Each rank's share of the batch's queries, scored against every column of the whole batch: the
        in-batch negatives of the 1-worker step, so the shares' gradients add up to its gradient exactly."""
        batch, shares = self.contrastive_batch(rows), []
        n = len(batch.queries)
        for i in range(parts):
            lo, hi = i * n // parts, (i + 1) * n // parts
            shares.append((ContrastiveBatch(batch.queries[lo:hi], batch.columns, batch.targets[lo:hi],
                                            batch.allowed[lo:hi]), (hi - lo) / n) if hi > lo else None)
        return shares

    def fingerprint(self) -> dict:
        return self._fingerprint

    def finish(self, folder: Path, loop: TrainingLoop) -> dict | None:
        """Write the trained weights into the adapter folder; the held-out record, if any."""
        raise NotImplementedError


class QueryAdapterTask(_RetrieverTask):
    """Only the adapter learns: base query vectors and stored passage vectors are fixed inputs.

    With held-out questions, the weights of the step with the best held-out dense MRR@10 are kept (step 0, the
    identity, included); without, the last step's.
    """

    description = "training retriever (query adapter)"
    best_metric, best_fields = "mrr@10", ("mrr@10",)

    def __init__(self, examples, held: list[RetrieverExample], questions, query_vectors: np.ndarray, passages,
                 passage_vectors: np.ndarray, tc: RetrieverTrainConfig, fingerprint: dict):
        from ragtune.train.query_adapter import QueryAdapter

        super().__init__(examples, questions, passages, tc, fingerprint)
        self.query_vectors, self.passage_vectors = query_vectors, passage_vectors
        self.adapter = QueryAdapter(passage_vectors.shape[1])
        self.optimizer = torch.optim.AdamW(self.adapter.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.held_queries = sorted({e.query for e in held})
        self.held_positives = [{e.positive for e in held if e.query == q} for q in self.held_queries]
        self.best_weight = self.adapter.weight.detach().clone()

    def settings(self) -> LoopSettings:
        settings = super().settings()
        if self.held_queries:
            settings.eval_every, settings.eval_at_start = self.tc.eval_every, True
        return settings

    def loss(self, rows: list[int]) -> torch.Tensor:
        from ragtune.train.query_adapter import adapter_loss, batch_tensors

        tensors = batch_tensors(self.contrastive_batch(rows), self.query_vectors, self.passage_vectors)
        return adapter_loss(self.adapter, tensors, self.tc.temperature)

    def evaluate(self, train_loss: float | None) -> dict:
        from ragtune.train.query_adapter import dense_mrr

        return {"mrr@10": dense_mrr(self.adapter, self.query_vectors[self.held_queries], self.passage_vectors,
                                    self.held_positives)}

    def keep_best(self) -> None:
        self.best_weight = self.adapter.weight.detach().clone()

    def postfix(self, loop: TrainingLoop) -> dict[str, str]:
        shown = super().postfix(loop)
        if loop.history and loop.history[-1]["step"] == loop.step:
            shown["heldout_mrr"] = f"{loop.history[-1]['mrr@10']:.3f}"
        return shown

    def state(self) -> dict:
        return {"weight": self.adapter.weight.detach().clone(), "best_weight": self.best_weight}

    def load(self, folder: Path, state: dict) -> None:
        with torch.no_grad():
            self.adapter.weight.copy_(state["weight"])
        self.best_weight = state["best_weight"]

    def finish(self, folder: Path, loop: TrainingLoop) -> dict | None:
        if loop.best is not None:
            with torch.no_grad():
                self.adapter.weight.copy_(self.best_weight)
        self.adapter.save(folder / QUERY_ADAPTER_FILE)
        if loop.best is None:
            return None
        return {"questions": len(self.held_queries), "base_mrr@10": round(loop.history[0]["mrr@10"], 4),
                "best_mrr@10": round(loop.best["mrr@10"], 4), "best_step": loop.best["step"]}


class EncoderTask(_RetrieverTask):
    """The whole sentence-transformers encoder learns, queries and passages alike (a fresh trainable copy)."""

    description = "training retriever (encoder)"

    def __init__(self, examples, questions, store, embedder: Embedder, tc: RetrieverTrainConfig, fingerprint: dict):
        from ragtune.train.encoder import load_encoder

        super().__init__(examples, questions, store.passages, tc, fingerprint)
        self.model = load_encoder(store.embedder)
        self.saved_length = self.model.max_seq_length
        self.model.max_seq_length = min(self.model.max_seq_length, tc.max_length)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=tc.encoder_lr, weight_decay=tc.weight_decay)
        self.query_texts = [embedder.query_prefix + store.search_text(q.text) for q in questions]
        self.passage_texts = _LazyTexts(store.passages, embedder.passage_prefix, store.search_text)

    def settings(self) -> LoopSettings:
        settings = super().settings()
        settings.max_grad_norm = ENCODER_MAX_GRAD_NORM
        return settings

    def loss(self, rows: list[int]) -> torch.Tensor:
        from ragtune.train.encoder import encoder_loss

        self.model.train()
        return encoder_loss(self.model, self.contrastive_batch(rows), self.query_texts, self.passage_texts,
                            self.tc.temperature)

    def state(self) -> dict:
        return {"weights": self.model.state_dict()}

    def load(self, folder: Path, state: dict) -> None:
        self.model.load_state_dict(state["weights"])

    def finish(self, folder: Path, loop: TrainingLoop) -> None:
        self.model.eval()
        self.model.max_seq_length = self.saved_length  # the training cut-off is not the encoder's own
        self.model.save(str(folder / ENCODER_DIR))
        return None


class _LazyTexts:
    """Row → the text `read` embedded for that passage, built only for rows a batch uses."""

    def __init__(self, passages, prefix: str, normalize):
        self.passages, self.prefix, self.normalize = passages, prefix, normalize

    def __getitem__(self, row: int) -> str:
        return self.prefix + self.normalize(self.passages[row].embedding_text)
