"""`ragtune train reader`: a span head on the generator's hidden states, LoRA-tuned on question + gold passage
+ distractors → the answer's start and end.

One question costs one short pass per passage (no 5-passage prompt, no generated tokens), and LoRA sits only in
the top layers, so backward stops there: many more training questions fit an hour than for `train generator`.
The run stops at `train_reader.max_minutes` whatever the data size (the training loop refits the linear schedule,
every few steps, to the steps that still fit), so its defaults finish within the hour on the whole CMRC training
file.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from ragtune.adapters import READER, AdapterMeta, update_meta, write_meta
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.eval.answer_metrics import em_f1, metric_language
from ragtune.files import atomic_dir, file_sha256
from ragtune.generate.span_reader import (
    DEFAULT_RETRIEVAL_WEIGHT,
    READ_TOKENS,
    EncodedPair,
    SpanHead,
    SpanReaderModel,
    choose_span,
    collate_pairs,
    encode_pair,
    passage_spans,
    read_answers,
    retrieval_priors,
    save_head,
    token_span,
    truncate_layers,
)
from ragtune.index.store import Passage
from ragtune.pipeline import Pipeline, answer_sources
from ragtune.progress import progress_bar
from ragtune.read.questions import Question, load_questions
from ragtune.train.batches import length_plan
from ragtune.train.checkpoint import check_out
from ragtune.train.examples import split_questions
from ragtune.train.loop import LoopSettings, TrainingLoop, TrainingTask
from ragtune.train.model import add_lora, autocast, training_base
from ragtune.train.negatives import NegativeMiner


@dataclass
class ReaderExample:
    """A question's gold pair with its answer's token positions, and its distractor pairs (no answer)."""

    question: Question
    gold: EncodedPair
    start: int
    end: int
    distractors: list[EncodedPair]

    @property
    def tokens(self) -> int:
        return len(self.gold) + sum(len(d) for d in self.distractors)


@dataclass
class ReaderResult:
    out: Path
    steps: int
    planned_steps: int
    examples: int
    #: training questions read (with repeats past one epoch); fewer than `examples` when the time budget ends it
    seen: int
    questions: int
    skipped: int
    train_seconds: float
    heldout: dict
    loss_first: float
    loss_last: float
    #: the retrieval weight fitted on the held-out questions read from ask's own top-k (fit_retrieval_weight)
    retrieval_fit: dict


def _answer_chars(passage: Passage, answers: list[str]) -> tuple[int, int] | None:
    for answer in answers:
        at = passage.text.find(answer)
        if at >= 0:
            return at, at + len(answer)
    return None


def build_reader_examples(pipeline: Pipeline, questions: list[Question], tokenizer, progress: bool
                          ) -> tuple[list[ReaderExample], int]:
    """(examples, questions skipped): gold chunk holding an answer from the index, distractors mined from it."""
    tc = pipeline.config.train_reader
    store = pipeline.store
    miner = NegativeMiner(store, depth=tc.mine_depth)
    vectors = pipeline.embedder.encode_queries([store.search_text(q.text) for q in questions], progress=progress)
    examples, skipped = [], 0
    rng = random.Random(f"{tc.seed}/distractors")
    with progress_bar(total=len(questions), desc="reader examples", unit="question", enabled=progress,
                      leave=False) as bar:
        for question, vector in zip(questions, vectors, strict=True):
            bar.update(1)
            gold_rows = miner.positives(question, vector)
            chars = _answer_chars(store.passages[gold_rows[0]], question.answers) if gold_rows else None
            if chars is None:
                skipped += 1
                continue
            gold_passage = store.passages[gold_rows[0]]
            gold = encode_pair(tokenizer, question.text, gold_passage.title, gold_passage.text,
                               tc.max_passage_tokens, keep_chars=chars)
            span = token_span(gold, *chars)
            if span is None:
                skipped += 1
                continue
            negatives = miner.negatives(question, vector, tc.mine_depth)
            picked = negatives[: tc.distractors] if tc.hard_distractors else rng.sample(
                negatives, min(tc.distractors, len(negatives)))
            distractors = [encode_pair(tokenizer, question.text, store.passages[r].title,
                                       store.passages[r].text, tc.distractor_tokens) for r in picked]
            examples.append(ReaderExample(question, gold, span[0], span[1], distractors))
    return examples, skipped


def shared_norm_loss(start: torch.Tensor, end: torch.Tensor, passage: torch.Tensor,
                     groups: list[tuple[list[int], int, int]]) -> torch.Tensor:
    """Mean over questions of -log p(start) - log p(end), each softmax over every passage position of the
    question's rows together (gold and distractors), so scores compare across passages at ask time."""
    neg = torch.finfo(start.dtype).min / 4
    start, end = start.masked_fill(~passage, neg), end.masked_fill(~passage, neg)
    losses = []
    for rows, s, e in groups:  # the gold row is rows[0]
        flat_s, flat_e = start[rows].flatten(), end[rows].flatten()
        losses.append(-(flat_s.log_softmax(0)[s] + flat_e.log_softmax(0)[e]))
    return torch.stack(losses).mean()


def _batch(examples: list[ReaderExample], pad_id: int):
    pairs: list[EncodedPair] = []
    groups = []
    for example in examples:
        rows = list(range(len(pairs), len(pairs) + 1 + len(example.distractors)))
        pairs.extend([example.gold, *example.distractors])
        groups.append((rows, example.start, example.end))
    return (*collate_pairs(pairs, pad_id), groups)


def add_reader_lora(base, config: Config):
    """LoRA only in the top `train_reader.lora_layers` layers, so backward stops below them."""
    tc = config.train_reader
    layers = base.config.num_hidden_layers
    top = list(range(max(0, layers - tc.lora_layers), layers)) if tc.lora_layers else None
    return add_lora(base, tc, section="train_reader", task_type=None, layers=top)


#: retrieval-prior weights tried on the held-out questions (span scores are logits, a prior is 0–1)
RETRIEVAL_WEIGHT_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0)
#: held-out questions retrieved and read at a time while fitting
FIT_BATCH = 16


def fit_retrieval_weight(pipeline: Pipeline, model, tokenizer, questions: list[Question],
                         progress: bool = False) -> dict:
    """The retrieval-prior weight with the best F1 when reading ask's own top-k for the held-out questions.

    Shared normalisation makes span scores comparable across passages, but a distractor's best span can still
    outscore the gold one's; how much the retriever's ranking should count is measured, not guessed. The
    default (1.0) stays unless another weight wins by more than one question's worth.
    """
    config = pipeline.config
    if not questions:
        return {}
    k = config.retrieval.top_k
    sources, spans = [], []
    model.eval()
    with progress_bar(total=len(questions), desc="fitting retrieval weight", unit="question", enabled=progress,
                      leave=False) as bar:
        for at in range(0, len(questions), FIT_BATCH):
            chunk = questions[at : at + FIT_BATCH]
            found = [answer_sources(r[:k]) for r in pipeline.retrieve_many([q.text for q in chunk], k,
                                                                           progress=False)]
            groups = [[encode_pair(tokenizer, q.text, s.passage.title, s.passage.text, READ_TOKENS) for s in f]
                      for q, f in zip(chunk, found, strict=True)]
            sources.extend(found)
            spans.extend(passage_spans(model, tokenizer, groups, config.generator.reader_max_answer_tokens,
                                       config.train_reader.bf16))
            bar.update(len(chunk))
    model.train()
    priors = [retrieval_priors([s.score for s in found], 1.0) for found in sources]

    def mean_f1(weight: float) -> float:
        total = 0.0
        for q, found, prior in zip(questions, spans, priors, strict=True):
            text, _ = choose_span(found, [weight * p for p in prior])
            language = metric_language(q.text, q.answers, config.eval.metric_language)
            total += em_f1(text, q.answers, language)[1] if text else 0.0
        return total / len(questions)

    scores = {w: mean_f1(w) for w in RETRIEVAL_WEIGHT_GRID}
    default = DEFAULT_RETRIEVAL_WEIGHT
    best = max(scores, key=lambda w: (scores[w], -abs(w - default)))
    if scores[best] - scores[default] <= 1.0 / len(questions):
        best = default
    return {"weight": best, "questions": len(questions), "default_weight": default,
            "default_f1": round(100 * scores[default], 2), "fitted_f1": round(100 * scores[best], 2),
            "grid": {str(w): round(100 * f, 2) for w, f in scores.items()}}


def _heldout(model, tokenizer, examples: list[ReaderExample], config: Config) -> dict:
    if not examples:
        return {}
    model.eval()
    answers = read_answers(model, tokenizer, [[e.gold, *e.distractors] for e in examples],
                           config.generator.reader_max_answer_tokens, config.train_reader.bf16)
    model.train()
    em_sum = f1_sum = 0.0
    for example, (text, _) in zip(examples, answers, strict=True):
        q = example.question
        em, f1 = em_f1(text, q.answers, metric_language(q.text, q.answers, config.eval.metric_language))
        em_sum += em
        f1_sum += f1
    n = len(examples)
    return {"questions": n, "em": round(100 * em_sum / n, 2), "f1": round(100 * f1_sum / n, 2)}


def _held_out_examples(examples: list[ReaderExample], config: Config
                       ) -> tuple[list[ReaderExample], list[ReaderExample]]:
    # at most a tenth of small data is held out: it is scored and fits the retrieval weight, not trained on
    size = min(config.train_reader.eval_size, len(examples) // 10)
    _, held_q = split_questions([e.question for e in examples], fraction=0.0, size=size,
                                seed=config.train_reader.seed)
    held_ids = {q.id for q in held_q}
    return ([e for e in examples if e.question.id not in held_ids], [e for e in examples if e.question.id in held_ids])


def refit_reader(pipeline: Pipeline, data: str | Path, folder: str | Path, progress: bool = True) -> dict:
    """Fit a trained reader's retrieval weight again on its held-out questions (the same split training used),
    e.g. after the index, the retriever or the reranker changed; rewrites `retrieval_fit` in its ragtune.json."""
    from ragtune.generate.hf import torch_dtype
    from ragtune.generate.span_reader import load_reader
    from ragtune.hardware import resolve_device

    config = pipeline.config
    folder = Path(folder).expanduser()
    device = resolve_device(config.generator.device)
    tokenizer, model = load_reader(config, folder, torch_dtype(config.generator.dtype, device), device)
    examples, _ = build_reader_examples(pipeline, _questions(config, Path(data).expanduser()), tokenizer, progress)
    _, held = _held_out_examples(examples, config)
    fit = fit_retrieval_weight(pipeline, model, tokenizer, [e.question for e in held], progress)
    update_meta(folder, retrieval_fit=fit)
    return fit


def _questions(config: Config, data: Path) -> list[Question]:
    questions = load_questions(data, answered=True)
    limit = config.train_reader.max_questions
    if limit is not None and len(questions) > limit:
        questions = random.Random(f"{config.train_reader.seed}/subset").sample(questions, limit)
    return questions


class ReaderTask(TrainingTask):
    """Questions (gold passage + distractors) → the span loss under shared normalisation."""

    def __init__(self, model: SpanReaderModel, lm, train: list[ReaderExample], pad_id: int, config: Config):
        self.model, self.lm, self.train, self.pad_id, self.tc = model, lm, train, pad_id, config.train_reader
        self.lengths = [e.tokens for e in train]
        lora_params = [p for p in lm.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW([{"params": lora_params, "lr": self.tc.lr},
                                            {"params": model.head.parameters(), "lr": self.tc.head_lr}],
                                           weight_decay=self.tc.weight_decay)
        self.seen = 0  # training questions read, with repeats past one epoch

    def settings(self) -> LoopSettings:
        """Linear schedule (at least one warmup step) fitted to the time budget, which ends the run."""
        tc = self.tc
        planned = tc.max_steps or max(1, math.ceil(tc.epochs * math.ceil(len(self.train) / tc.batch_size)))
        return LoopSettings(total_steps=planned, max_grad_norm=tc.max_grad_norm, warmup_ratio=tc.warmup_ratio,
                            min_warmup=1, max_minutes=tc.max_minutes, description="training reader",
                            progress_every=20)

    def batches(self, epoch: int) -> list[list[int]]:
        return length_plan(self.lengths, self.tc.batch_size, self.tc.bucket_batches, self.tc.seed, epoch)

    def pieces(self, batch: list[int]) -> list[list[int]]:
        self.seen += len(batch)  # the whole batch, also on a data-parallel rank that computes a share of it
        return [batch]

    def loss(self, rows: list[int]) -> torch.Tensor:
        examples = [self.train[i] for i in rows]
        ids, mask, passage, groups = _batch(examples, self.pad_id)
        with autocast(self.lm, self.tc.bf16):
            start, end = self.model(ids.to(self.lm.device), mask.to(self.lm.device))
        return shared_norm_loss(start.float(), end.float(), passage.to(start.device), groups)


def train_reader(pipeline: Pipeline, data: str | Path, out: str | Path, progress: bool = True) -> ReaderResult:
    """Train a span reader for `pipeline`'s generator on `data`, passages from `pipeline`'s index; OUT receives the
    LoRA (PEFT files), the head, and `ragtune.json` (kind "reader"), atomically when the run ends."""
    config = pipeline.config
    tc = config.train_reader
    data, out = Path(data).expanduser(), Path(out).expanduser()
    check_out(out, resume=False)
    questions = _questions(config, data)
    tokenizer, base, _ = training_base(config, tc.seed)
    truncate_layers(base, tc.layers)
    examples, skipped = build_reader_examples(pipeline, questions, tokenizer, progress)
    if not examples:
        raise RagtuneError(f"{data}: no question has its answer in an indexed passage (index the data's "
                           "passages with `ragtune read` first)")
    train, held = _held_out_examples(examples, config)
    lm = add_reader_lora(base, config)
    model = SpanReaderModel(lm, SpanHead(base.config.hidden_size)).to(base.device)
    model.train()
    task = ReaderTask(model, lm, train, tokenizer.pad_token_id, config)
    settings = task.settings()
    loop = TrainingLoop(task, settings, progress=progress)
    loop.run()
    heldout = _heldout(model, tokenizer, held, config)
    retrieval_fit = fit_retrieval_weight(pipeline, model, tokenizer, [e.question for e in held], progress)
    losses = loop.step_losses
    loss_first = round(sum(losses[:20]) / max(1, len(losses[:20])), 4)
    loss_last = round(sum(losses[-20:]) / max(1, len(losses[-20:])), 4)
    with atomic_dir(out) as tmp:
        lm.save_pretrained(tmp)
        save_head(model.head, tmp)
        write_meta(tmp, AdapterMeta(
            kind=READER, base_model=config.generator.name, layers=tc.layers, data=str(data),
            data_sha256=file_sha256(data), questions=len(questions), examples=len(train), questions_seen=task.seen,
            skipped=skipped, steps=loop.step, planned_steps=settings.total_steps,
            train_seconds=round(loop.train_seconds, 1), heldout=heldout, retrieval_fit=retrieval_fit,
            loss_first=loss_first, loss_last=loss_last, config=config.model_dump(mode="json")))
    return ReaderResult(out, loop.step, settings.total_steps, len(train), task.seen, len(questions), skipped,
                        loop.train_seconds, heldout, loss_first, loss_last, retrieval_fit)
