"""LoRA fine-tuning of the generator on RAFT examples: a small hand-written torch loop that resumes exactly."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.files import file_sha256
from ragtune.pipeline import Pipeline
from ragtune.progress import progress_bar
from ragtune.read.questions import Question
from ragtune.train.batches import collate, length_plan, target_tokens
from ragtune.train.checkpoint import (
    CHECKPOINT,
    capture_rng,
    check_out,
    load_checkpoint,
    publish_files,
    restore_rng,
    save_checkpoint,
    seed_everything,
)
from ragtune.train.examples import (
    EvalExample,
    TrainExample,
    build_eval_examples,
    build_examples,
    load_short_questions,
    split_questions,
)
from ragtune.train.model import add_lora, autocast, load_base, loss_sum, score
from ragtune.train.tokenize import Encoded, encode_example, stop_token_ids

META = "ragtune.json"


@dataclass
class TrainResult:
    """Where a run stands: `finished` is False when it was interrupted (resume it with the same OUT)."""

    out: Path
    step: int
    total_steps: int
    finished: bool
    stopped_early: bool
    best: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    mean_step_seconds: float = 0.0
    examples: int = 0
    eval_questions: int = 0
    #: questions skipped because all their answers were longer than train.max_answer_units
    skipped_long: int = 0


# --------------------------------------------------------------------------- data


def prepare_examples(pipeline: Pipeline, questions: list[Question]
                     ) -> tuple[list[TrainExample], list[EvalExample]]:
    """Held-out split, retrieval, RAFT examples for training and ask's own prompts for evaluation."""
    cfg = pipeline.config
    tc = cfg.train
    k = tc.top_k or cfg.retrieval.top_k
    train_q, held_q = split_questions(questions, fraction=tc.eval_fraction, size=tc.eval_size, seed=tc.seed)
    by_id: dict[str, list] = defaultdict(list)
    for passage in pipeline.store.passages:
        by_id[passage.id].append(passage)
    ranked = pipeline.retrieve_many([q.text for q in train_q], max(k, tc.retrieve_depth))
    train = build_examples(train_q, [[r.passage for r in rs] for rs in ranked], k=k,
                           gold_probability=tc.gold_probability, seed=tc.seed,
                           max_units=cfg.generator.max_passage_tokens, passages_by_id=by_id,
                           no_gold_target=tc.no_gold_target)
    held = build_eval_examples(held_q, pipeline.retrieve_many([q.text for q in held_q], k), k=k,
                               max_units=cfg.generator.max_passage_tokens)
    if not train:
        raise RagtuneError("no training examples: no question's gold passage is in the index "
                           "(index the data's passages with `ragtune read` first)")
    return train, held


# --------------------------------------------------------------------------- the loop


class _Run:
    """Model, optimizer, schedule, data order and bookkeeping of one training run (possibly resumed)."""

    def __init__(self, config: Config, tokenizer, model, train: list[Encoded], held: list[EvalExample],
                 out: Path, data: Path, data_sha256: str):
        self.config, self.tc = config, config.train
        self.tokenizer, self.model = tokenizer, model
        self.train, self.held, self.out = train, held, out
        self.data, self.data_sha256 = data, data_sha256
        self.lengths = [len(r) for r in train]
        self.examples_sha256 = hashlib.sha256(json.dumps([r.input_ids for r in train]).encode()).hexdigest()
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=self.tc.lr, weight_decay=self.tc.weight_decay)
        per_epoch = math.ceil(len(train) / self.tc.batch_size)
        self.total_steps = self.tc.max_steps or max(1, math.ceil(self.tc.epochs * per_epoch / self.tc.grad_accum))
        self.warmup = round(self.tc.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.step = self.epoch = self.cursor = 0
        self.plan = self._plan(0)
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.bad_evals = 0
        self.stopped_early = False
        self.train_seconds = self.step_seconds = 0.0
        self.losses: list[float] = []
        self.updating = False  # inside optimizer.step: weights may be half-updated, not worth a checkpoint

    def _lr_factor(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        return max(0.0, (self.total_steps - step) / max(1, self.total_steps - self.warmup))

    def _plan(self, epoch: int) -> list[list[int]]:
        return length_plan(self.lengths, self.tc.batch_size, self.tc.bucket_batches, self.tc.seed, epoch)

    def _next_batch(self) -> list[Encoded]:
        if self.cursor >= len(self.plan):
            self.epoch += 1
            self.plan, self.cursor = self._plan(self.epoch), 0
        rows = self.plan[self.cursor]
        self.cursor += 1
        return [self.train[i] for i in rows]

    # ---- state --------------------------------------------------------------------------
    def state(self, rng: dict[str, Any] | None = None, order: tuple | None = None) -> dict[str, Any]:
        epoch, plan, cursor = order or (self.epoch, self.plan, self.cursor)
        return {"step": self.step, "epoch": epoch, "plan": plan, "cursor": cursor,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "rng": rng or capture_rng(), "history": self.history, "best": self.best, "losses": self.losses,
                "bad_evals": self.bad_evals, "stopped_early": self.stopped_early,
                "train_seconds": self.train_seconds, "step_seconds": self.step_seconds,
                "total_steps": self.total_steps, "data_sha256": self.data_sha256,
                "examples_sha256": self.examples_sha256}

    def restore(self) -> None:
        from peft import set_peft_model_state_dict

        weights, state = load_checkpoint(self.out / CHECKPOINT)
        if state["data_sha256"] != self.data_sha256:
            raise RagtuneError(f"{self.out}: the checkpoint was trained on different data (sha256 differs)")
        if state["examples_sha256"] != self.examples_sha256:
            raise RagtuneError(f"{self.out}: the index or train config changed since the checkpoint, so its "
                               "training examples differ; train into a new --out")
        set_peft_model_state_dict(self.model, weights)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        for name in ("step", "epoch", "plan", "cursor", "history", "best", "losses", "bad_evals", "stopped_early",
                     "train_seconds", "step_seconds"):
            setattr(self, name, state[name])
        restore_rng(state["rng"])

    def save(self, rng: dict[str, Any] | None = None, order: tuple | None = None) -> None:
        save_checkpoint(self.out / CHECKPOINT, self.model, self.state(rng, order))

    def publish_best(self) -> None:
        tmp = self.out / f".best-{uuid.uuid4().hex[:8]}"
        try:
            self.model.save_pretrained(tmp)
            publish_files(tmp, self.out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def write_meta(self) -> None:
        meta = {
            "base_model": self.config.generator.name,
            "data": str(self.data), "data_sha256": self.data_sha256,
            "examples": len(self.train), "eval_questions": len(self.held),
            "step": self.step, "total_steps": self.total_steps, "stopped_early": self.stopped_early,
            "best": self.best, "history": self.history,
            "train_seconds": round(self.train_seconds, 2),
            "mean_step_seconds": round(self.step_seconds / max(self.step, 1), 3),
            "config": self.config.model_dump(mode="json"),
        }
        tmp = self.out / f".{META}.tmp"
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.out / META)

    # ---- steps --------------------------------------------------------------------------
    def train_step(self) -> float:
        group = [self._next_batch() for _ in range(self.tc.grad_accum)]
        tokens = max(1, sum(target_tokens(r) for rows in group for r in rows))
        pad_id = self.tokenizer.pad_token_id
        total = 0.0
        for rows in group:
            with autocast(self.model, self.tc.bf16):
                loss = loss_sum(self.model, *collate(rows, pad_id))
            (loss / tokens).backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(self.params, self.tc.max_grad_norm)
        self.updating = True
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.updating = False
        return total / tokens

    def evaluate(self) -> None:
        start = time.perf_counter()
        metrics = score(self.model, self.tokenizer, self.held, self.config) if self.held else {}
        self.model.train()
        loss = sum(self.losses) / len(self.losses) if self.losses else None
        self.losses = []
        entry = {"step": self.step, "loss": round(loss, 4) if loss is not None else None, **metrics,
                 "eval_seconds": round(time.perf_counter() - start, 2)}
        self.history.append(entry)
        if self.held and (self.best is None or metrics["f1"] > self.best["f1"]):
            self.best = {"step": self.step, **metrics}
            self.bad_evals = 0
            self.publish_best()
        elif self.held:
            self.bad_evals += 1
            self.stopped_early = self.bad_evals >= self.tc.patience
        self.write_meta()


def train_generator(pipeline: Pipeline, data: str | Path, out: str | Path, *, resume: bool = False,
                    progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train a LoRA adapter for `pipeline`'s generator on `data` retrieved from `pipeline`'s index.

    OUT receives the best adapter (by held-out F1) as a PEFT folder, `ragtune.json`, and `checkpoint/`.
    `stop_after` ends the run after that many steps as an interruption would (checkpoint saved, schedule
    unchanged), so `resume=True` continues it exactly.
    """
    config = pipeline.config
    tc = config.train
    data, out = Path(data).expanduser(), Path(out).expanduser()
    check_out(out, resume)
    questions, skipped_long = load_short_questions(data, tc.max_answer_units)
    data_sha256 = file_sha256(data)
    train_examples, held = prepare_examples(pipeline, questions)
    if config.generator.threads:
        torch.set_num_threads(config.generator.threads)
    seed_everything(tc.seed)
    tokenizer, base = load_base(config)
    tokenizer.padding_side = "right"
    generation_eos = getattr(getattr(base, "generation_config", None), "eos_token_id", None)
    stops = stop_token_ids(tokenizer, generation_eos)
    encoded = [encode_example(tokenizer, e, tc.max_length, stops) for e in train_examples]
    model = add_lora(base, tc)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(config, tokenizer, model, encoded, held, out, data, data_sha256)
    if resume:
        run.restore()
    model.train()
    finished = _loop(run, progress, stop_after)
    if finished:
        if run.best is None:  # nothing held out: the last adapter is the one to keep
            run.best = {"step": run.step}
            run.publish_best()
        run.write_meta()
    return TrainResult(out, run.step, run.total_steps, finished, run.stopped_early, run.best, run.history,
                       run.train_seconds, run.step_seconds / max(run.step, 1), len(encoded), len(held),
                       skipped_long)


def _loop(run: _Run, progress: bool, stop_after: int | None) -> bool:
    """Steps until done, early stop or `stop_after`; returns False when interrupted. Ctrl-C saves a checkpoint."""
    tc = run.tc
    bar = progress_bar(total=run.total_steps, initial=run.step, desc="training", unit="step", enabled=progress,
                       every=max(1, tc.eval_every // 10))
    try:
        if run.step == 0 and run.held and tc.eval_at_start and not run.history:
            _timed_eval(run, bar)
        while run.step < run.total_steps and not run.stopped_early:
            if stop_after is not None and run.step >= stop_after:
                run.save()
                return False
            boundary = (capture_rng(), (run.epoch, run.plan, run.cursor))
            start = time.perf_counter()
            try:
                loss = run.train_step()
            except KeyboardInterrupt:
                if not run.updating:
                    run.optimizer.zero_grad(set_to_none=True)
                    run.save(*boundary)
                raise
            seconds = time.perf_counter() - start
            run.step_seconds += seconds
            run.train_seconds += seconds
            run.losses.append(loss)
            bar.set_postfix(loss=f"{loss:.3f}", step_s=f"{seconds:.1f}")
            bar.update(1)
            if run.step % tc.eval_every == 0 or run.step == run.total_steps:
                _timed_eval(run, bar)
            if run.step % tc.save_every == 0 or run.step == run.total_steps or run.stopped_early:
                run.save()
    finally:
        bar.close()
    return True


def _timed_eval(run: _Run, bar) -> None:
    start = time.perf_counter()
    run.evaluate()
    run.train_seconds += time.perf_counter() - start
    bar.write(_describe(run.history[-1]), file=sys.stderr)


def _describe(entry: dict[str, Any]) -> str:
    parts = [f"step {entry['step']}"]
    if entry.get("loss") is not None:
        parts.append(f"loss {entry['loss']:.3f}")
    if "f1" in entry:
        parts.append(f"EM {entry['em']:.1f} F1 {entry['f1']:.1f}")
    return "eval: " + ", ".join(parts)
