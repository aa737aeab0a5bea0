"""`ragtune train retriever`: contrastive fine-tuning of the embedder against the current index.

A frozen embedder (the numpy USE default, ONNX models) gets a query-side adapter: the stored passage vectors
stay valid and `ask --adapter OUT` uses it at once. A sentence-transformers embedder may be tuned whole: OUT
then holds `encoder/`, and the corpus must be re-embedded with it before ask/eval accept the adapter.
The output folder is written atomically (a temporary sibling renamed into place).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ragtune.adapters import ENCODER, ENCODER_DIR, META, QUERY_ADAPTER, QUERY_ADAPTER_FILE
from ragtune.errors import RagtuneError
from ragtune.files import atomic_dir, file_sha256
from ragtune.index.embedders import Embedder
from ragtune.index.embedders.sentence_transformer import SentenceTransformerEmbedder
from ragtune.pipeline import Pipeline
from ragtune.progress import progress_bar
from ragtune.read.questions import load_questions
from ragtune.train.checkpoint import seed_everything
from ragtune.train.negatives import RetrieverExample, make_batch, mine_examples


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


def batch_plan(n: int, batch_size: int, seed: int) -> Iterator[list[int]]:
    """Endless seeded shuffles of example numbers, cut into batches (a short last batch is kept)."""
    epoch = 0
    while True:
        order = list(range(n))
        random.Random(f"{seed}/{epoch}").shuffle(order)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]
        epoch += 1


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
                    progress: bool = True) -> RetrieverTrainResult:
    """Mine hard negatives from `pipeline`'s index for `data`'s questions, train, write the adapter to OUT."""
    tc = pipeline.config.train_retriever
    data, out = Path(data).expanduser(), Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RagtuneError(f"{out} is not empty: choose a new --out")
    questions = load_questions(data, split or "train", answered=not Path(data).expanduser().is_dir())
    store, embedder = pipeline.store, pipeline.embedder
    kind = choose_kind(tc.adapter, embedder)
    query_vectors = embedder.encode_queries([store.search_text(q.text) for q in questions], progress=progress)
    examples = mine_examples(store, questions, query_vectors, hard_negatives=tc.hard_negatives, depth=tc.mine_depth)
    if not examples:
        raise RagtuneError(f"{data}: no question's positive passage is in the index at {pipeline.index_dir} "
                           "(index the data's passages with `ragtune read` first)")
    held: list[RetrieverExample] = []
    if kind == QUERY_ADAPTER:  # cheap to score on stored vectors; a whole encoder would need the corpus re-encoded
        examples, held = held_out(examples, len(questions), tc.eval_fraction, tc.seed,
                                  lambda row: store.passages[row].id)
    total = tc.max_steps or max(1, math.ceil(tc.epochs * len(examples) / tc.batch_size))
    seed_everything(tc.seed)
    plan = batch_plan(len(examples), tc.batch_size, tc.seed)
    passages = store.passages
    start = time.perf_counter()
    heldout = None
    with atomic_dir(out) as tmp:
        fusion = None
        if kind == QUERY_ADAPTER:
            losses, heldout = _train_query_adapter(tmp, examples, held, plan, total, questions, query_vectors,
                                                   passages, np.asarray(store.vectors.vectors()), tc, progress)
            if held and pipeline.config.retrieval.fusion == "linear":  # the fitted weight is a linear one
                fusion = _fit_fusion(pipeline, tmp, held, questions, query_vectors)
        else:
            losses = _train_encoder(tmp, examples, plan, total, questions, store.embedder, embedder, passages,
                                    store.search_text, tc, progress)
        seconds = time.perf_counter() - start
        head, tail = losses[: max(1, len(losses) // 10)], losses[-max(1, len(losses) // 10):]
        result = RetrieverTrainResult(out, kind, total, len(questions), len(examples), float(np.mean(head)),
                                      float(np.mean(tail)), seconds, heldout, fusion)
        meta = {
            "kind": "retriever", "retriever": kind, "embedder": store.embedder,
            "reembed_required": kind == ENCODER, **({"encoder": ENCODER_DIR} if kind == ENCODER else {}),
            "data": str(data), "data_sha256": file_sha256(data) if data.is_file() else None,
            "questions": len(questions), "examples": len(examples), "steps": total,
            "loss_first": round(result.loss_first, 4), "loss_last": round(result.loss_last, 4),
            "heldout": heldout, "fusion": fusion, "train_seconds": round(seconds, 2),
            "config": tc.model_dump(mode="json"),
        }
        (tmp / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return result


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
    pools = candidate_pools(retriever, [questions[q].question for q in held_queries], vectors, positives)
    default = retriever.config.dense_weight
    return fit_dense_weight(pools, default)


def _steps(plan: Iterator[list[int]], total: int, progress: bool, desc: str):
    bar = progress_bar(range(total), desc=desc, unit="step", enabled=progress)
    for _ in bar:
        yield next(plan), bar


def _train_query_adapter(tmp: Path, examples: list[RetrieverExample], held: list[RetrieverExample], plan,
                         total: int, questions, query_vectors, passages, passage_vectors: np.ndarray, tc,
                         progress: bool) -> tuple[list[float], dict | None]:
    """Only the adapter learns: base query vectors and stored passage vectors are fixed inputs.

    With held-out questions, the weights of the step with the best held-out dense MRR@10 are kept (step 0, the
    identity, included); without, the last step's.
    """
    from ragtune.train.query_adapter import QueryAdapter, adapter_step, batch_tensors, dense_mrr

    adapter = QueryAdapter(passage_vectors.shape[1])
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    held_queries = sorted({e.query for e in held})
    held_positives = [{e.positive for e in held if e.query == q} for q in held_queries]

    def score() -> float:
        return dense_mrr(adapter, query_vectors[held_queries], passage_vectors, held_positives)

    best = {"step": 0, "mrr@10": score()} if held else None
    base_mrr = best["mrr@10"] if best else None
    best_weight = adapter.weight.detach().clone()
    losses = []
    for rows, bar in _steps(plan, total, progress, "training retriever (query adapter)"):
        batch = make_batch([examples[i] for i in rows], questions, passages)
        losses.append(adapter_step(adapter, optimizer, batch_tensors(batch, query_vectors, passage_vectors),
                                   tc.temperature))
        step = len(losses)
        if best is not None and (step % tc.eval_every == 0 or step == total):
            mrr = score()
            if mrr > best["mrr@10"]:
                best, best_weight = {"step": step, "mrr@10": mrr}, adapter.weight.detach().clone()
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", heldout_mrr=f"{mrr:.3f}")
        else:
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    if best is None:
        best_weight = adapter.weight.detach().clone()
    with torch.no_grad():
        adapter.weight.copy_(best_weight)
    adapter.save(tmp / QUERY_ADAPTER_FILE)
    heldout = None if best is None else {
        "questions": len(held_queries), "base_mrr@10": round(base_mrr, 4), "best_mrr@10": round(best["mrr@10"], 4),
        "best_step": best["step"]}
    return losses, heldout


def _train_encoder(tmp: Path, examples: list[RetrieverExample], plan, total: int, questions, index_embedder: str,
                   embedder: Embedder, passages, normalize, tc, progress: bool) -> list[float]:
    from ragtune.train.encoder import encoder_step, load_encoder

    model = load_encoder(index_embedder)
    saved_length, model.max_seq_length = model.max_seq_length, min(model.max_seq_length, tc.max_length)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.encoder_lr, weight_decay=tc.weight_decay)
    query_texts = [embedder.query_prefix + normalize(q.text) for q in questions]
    passage_texts = _LazyTexts(passages, embedder.passage_prefix, normalize)
    losses = []
    for rows, bar in _steps(plan, total, progress, "training retriever (encoder)"):
        batch = make_batch([examples[i] for i in rows], questions, passages)
        losses.append(encoder_step(model, optimizer, batch, query_texts, passage_texts, tc.temperature))
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    model.eval()
    model.max_seq_length = saved_length  # the training cut-off is not the encoder's own
    model.save(str(tmp / ENCODER_DIR))
    return losses


class _LazyTexts:
    """Row → the text `read` embedded for that passage, built only for rows a batch uses."""

    def __init__(self, passages, prefix: str, normalize):
        self.passages, self.prefix, self.normalize = passages, prefix, normalize

    def __getitem__(self, row: int) -> str:
        return self.prefix + self.normalize(self.passages[row].embedding_text)
