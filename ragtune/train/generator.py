"""LoRA fine-tuning of the generator on RAFT examples, as a task of the training loop (train/loop.py)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ragtune.adapters import GENERATOR, PEFT_FILES, PEFT_WEIGHTS, AdapterMeta, write_meta
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.files import file_sha256
from ragtune.pipeline import Pipeline
from ragtune.read.questions import Question
from ragtune.train.batches import collate, length_plan, target_tokens
from ragtune.train.checkpoint import CHECKPOINT, check_out, publish_files
from ragtune.train.examples import (
    EvalExample,
    TrainExample,
    build_eval_examples,
    build_examples,
    load_short_questions,
    split_questions,
)
from ragtune.train.loop import CHECKPOINT_FORMAT, LoopSettings, TrainingLoop, TrainingTask
from ragtune.train.model import add_lora, autocast, loss_sum, score, training_base
from ragtune.train.tokenize import Encoded, encode_example


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
    #: summary pairs skipped because no sentence of their target is supported by the document
    #: (summarize.train_min_support)
    skipped_unsupported: int = 0


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


# --------------------------------------------------------------------------- the task


class GeneratorTask(TrainingTask):
    """RAFT examples → the LoRA's answer-only loss; held-out EM/F1 of ask's own prompts keeps the best adapter,
    published into OUT as soon as it is scored best."""

    best_metric, best_fields = "f1", ("em", "f1")
    #: what the run's ragtune.json records besides the common fields (a task of its own says which)
    record_extra: dict[str, Any] = {}

    def __init__(self, config: Config, tokenizer, model, train: list[Encoded], held: list[EvalExample],
                 out: Path, data: Path, data_sha256: str):
        self.config, self.tc = config, config.train
        self.tokenizer, self.model = tokenizer, model
        self.train, self.held, self.out = train, held, out
        self.data, self.data_sha256 = data, data_sha256
        self.lengths = [len(r) for r in train]
        self.examples_sha256 = hashlib.sha256(json.dumps([r.input_ids for r in train]).encode()).hexdigest()
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=self.tc.lr, weight_decay=self.tc.weight_decay)

    def settings(self) -> LoopSettings:
        tc = self.tc
        per_epoch = math.ceil(len(self.train) / tc.batch_size)
        return LoopSettings(total_steps=tc.max_steps or max(1, math.ceil(tc.epochs * per_epoch / tc.grad_accum)),
                            grad_accum=tc.grad_accum, max_grad_norm=tc.max_grad_norm, warmup_ratio=tc.warmup_ratio,
                            eval_every=tc.eval_every, eval_at_start=tc.eval_at_start and bool(self.held),
                            patience=tc.patience, save_every=tc.save_every, description="training",
                            progress_every=max(1, tc.eval_every // 10))

    # ---- data and loss ------------------------------------------------------------------
    def batches(self, epoch: int) -> list[list[int]]:
        return length_plan(self.lengths, self.tc.batch_size, self.tc.bucket_batches, self.tc.seed, epoch)

    def weight(self, rows: list[int]) -> int:
        """Answer tokens: a step's loss is per answer token over all its batches."""
        return sum(target_tokens(self.train[i]) for i in rows)

    def loss(self, rows: list[int]) -> torch.Tensor:
        with autocast(self.model, self.tc.bf16):
            batch = [self.train[i] for i in rows]
            multiple = self.tc.pad_multiple
            return loss_sum(self.model, *collate(batch, self.tokenizer.pad_token_id, multiple), multiple=multiple)

    # ---- evaluation ---------------------------------------------------------------------
    def evaluate(self, train_loss: float | None) -> dict[str, Any]:
        start = time.perf_counter()
        metrics = score(self.model, self.tokenizer, self.held, self.config) if self.held else {}
        self.model.train()
        return {"loss": round(train_loss, 4) if train_loss is not None else None, **metrics,
                "eval_seconds": round(time.perf_counter() - start, 2)}

    def keep_best(self) -> None:
        """The adapter as it is now, into OUT (each file by an atomic rename)."""
        tmp = self.out / f".best-{uuid.uuid4().hex[:8]}"
        try:
            self.model.save_pretrained(tmp)
            publish_files(tmp, self.out, PEFT_FILES)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def evaluated(self, loop: TrainingLoop) -> None:
        self.write_record(loop)

    def describe(self, entry: dict[str, Any]) -> str:
        parts = [f"step {entry['step']}"]
        if entry.get("loss") is not None:
            parts.append(f"loss {entry['loss']:.3f}")
        return "eval: " + ", ".join(parts + self.score_parts(entry))

    def score_parts(self, entry: dict[str, Any]) -> list[str]:
        """The held-out scores an evaluation line shows (a task on other data shows its own)."""
        return [f"EM {entry['em']:.1f} F1 {entry['f1']:.1f}"] if "f1" in entry else []

    def postfix(self, loop: TrainingLoop) -> dict[str, str]:
        return {"loss": f"{loop.step_losses[-1]:.3f}", "step_s": f"{loop.step_times[-1]:.1f}"}

    def write_record(self, loop: TrainingLoop) -> None:
        write_meta(self.out, AdapterMeta(
            kind=GENERATOR, base_model=self.config.generator.name,
            data=str(self.data), data_sha256=self.data_sha256,
            examples=len(self.train), eval_questions=len(self.held),
            step=loop.step, total_steps=loop.total_steps, stopped_early=loop.stopped_early,
            best=loop.best, history=loop.history,
            train_seconds=round(loop.train_seconds, 2),
            mean_step_seconds=round(loop.step_seconds / max(loop.step, 1), 3),
            config=self.config.model_dump(mode="json"), **self.record_extra))

    # ---- checkpoint ---------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        # the examples change when the index or the train config does: the run would not be the same one
        return {"data": self.data_sha256, "training_examples": self.examples_sha256}

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)  # the checkpoint is itself a loadable PEFT folder

    def load(self, folder: Path, state: dict[str, Any]) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(self.model, load_file(folder / PEFT_WEIGHTS))

    def upgrade(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """A checkpoint of the generator's own loop (before train/loop.py): the same run, laid out the old way."""
        if "examples_sha256" not in state or "losses" not in state:
            return None
        return {**state, "format": CHECKPOINT_FORMAT,
                "fingerprint": {"data": state["data_sha256"], "training_examples": state["examples_sha256"]},
                "window": state["losses"], "step_losses": [], "step_times": [], "task": {}}


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
    tokenizer, base, stops = training_base(config, tc.seed, tc)
    encoded = [encode_example(tokenizer, e, tc.max_length, stops) for e in train_examples]
    model = add_lora(base, tc)
    out.mkdir(parents=True, exist_ok=True)
    task = GeneratorTask(config, tokenizer, model, encoded, held, out, data, data_sha256)
    return run_generator_task(task, resume=resume, progress=progress, stop_after=stop_after,
                              skipped_long=skipped_long)


def run_generator_task(task: GeneratorTask, *, resume: bool, progress: bool, stop_after: int | None,
                       skipped_long: int = 0) -> TrainResult:
    """Run (or resume) a generator task's loop into its OUT; a finished run keeps its best (else last) adapter."""
    loop = TrainingLoop(task, task.settings(), task.out / CHECKPOINT, progress)
    if resume:
        loop.restore()
    task.model.train()
    finished = loop.run(stop_after)
    if finished:
        if loop.best is None:  # nothing held out: the last adapter is the one to keep
            loop.best = {"step": loop.step}
            task.keep_best()
        task.write_record(loop)
    return TrainResult(task.out, loop.step, loop.total_steps, finished, loop.stopped_early, loop.best, loop.history,
                       loop.train_seconds, loop.step_seconds / max(loop.step, 1), len(task.train), len(task.held),
                       skipped_long)
