"""One training loop for every trainer (generator, retriever, joint, reader): each supplies a `TrainingTask`, its
data, its loss and its evaluation; the loop owns the rest.

The loop owns: the run's preamble (threads, seed), the data order (epochs of batches, resumable mid-epoch), the
learning-rate schedule (linear warmup then linear decay, refitted to a time budget), gradient accumulation,
clipping, evaluation every N steps with patience and keep-best, the history, the progress bar (log lines when
stderr is not a terminal), and an atomic checkpoint from which `--resume` continues exactly: weights, optimizer,
schedule, RNG, data position and history, so an interrupted run ends with the same weights as a straight one.

Data-parallel (`--workers N`, train/distributed.py): each rank computes its share of every step's pieces, the
gradients are summed across ranks before clipping and the optimizer step, and rank 0 alone evaluates, shows
progress and saves; the ranks follow rank 0's decisions (end, early stop, time budget) step by step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ragtune.errors import RagtuneError, WorkerFinished
from ragtune.files import atomic_dir
from ragtune.progress import progress_bar
from ragtune.train.checkpoint import capture_rng, load_state, restore_rng, save_state, seed_everything
from ragtune.train.distributed import DataParallel
from ragtune.train.memory import release_free_memory

#: written into every checkpoint's state; a checkpoint without it (an older ragtune's) cannot resume exactly
CHECKPOINT_FORMAT = 2
#: steps timed before the schedule is first fitted to a time budget, and steps between refits (the pace
#: settles after the first steps, and other jobs on the machine change it)
TIMING_STEPS = 5
REFIT_EVERY = 25
#: step losses the progress bar's running mean covers
POSTFIX_WINDOW = 20


def start_run(seed: int, threads: int | None = None) -> None:
    """What every run does first: torch's CPU threads (None: torch's default) and every RNG seeded."""
    if threads:
        torch.set_num_threads(threads)
    seed_everything(seed)


class LinearSchedule:
    """Learning-rate factor: linear warmup to the peak, then linear decay to 0 at `total` steps.

    A callable object, so LambdaLR's state_dict (and so the checkpoint) records `total` and `warmup` as refitted.
    """

    def __init__(self, total: int, warmup_ratio: float, min_warmup: int = 0):
        self.ratio, self.min_warmup = warmup_ratio, min_warmup
        self.total = total
        self.warmup = max(min_warmup, round(warmup_ratio * total))

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        return max(0.0, (self.total - step) / max(1, self.total - self.warmup))

    def refit(self, total: int) -> None:
        """A new end (a time budget allows fewer steps); the warmup never grows."""
        self.total = total
        self.warmup = min(self.warmup, max(self.min_warmup, round(self.ratio * total)))


@dataclass
class LoopSettings:
    """How a run steps, evaluates and saves; each trainer fills it from its config section."""

    total_steps: int
    #: batches whose gradients add up before one optimizer step
    grad_accum: int = 1
    #: gradient norm clipped to this before each step (None: not clipped)
    max_grad_norm: float | None = None
    #: LinearSchedule's warmup share (None: a constant learning rate, no scheduler)
    warmup_ratio: float | None = None
    min_warmup: int = 0
    #: evaluate every this many steps and after the last (None: never)
    eval_every: int | None = None
    #: evaluate before the first step too (the base model's score starts the history)
    eval_at_start: bool = False
    #: evaluations without a better `best_metric` before stopping early (None: never stop early)
    patience: int | None = None
    #: checkpoint every this many steps (and after the last, on early stop and on Ctrl-C); None: only those
    save_every: int | None = None
    #: wall-clock budget: the schedule is refitted to the steps that still fit, and the run ends when it is spent
    max_minutes: float | None = None
    description: str = "training"
    #: in log mode (stderr not a terminal), a progress line at least every this many steps
    progress_every: int | None = None


class TrainingTask:
    """What a trainer plugs into the loop: its data, its loss and its evaluation.

    Required: `optimizer` (built over the trainable parameters, which are also what is clipped), `batches` and
    `loss`. The rest has defaults for a task with nothing to evaluate or checkpoint.
    """

    optimizer: torch.optim.Optimizer
    #: the evaluation metric the best step is kept by (higher is better); None: no keep-best
    best_metric: str | None = None
    #: the metrics `best` records for the best step
    best_fields: tuple[str, ...] = ()

    def batches(self, epoch: int) -> Sequence[Any]:
        """One epoch's batches, in training order (seeded by `epoch`, so a resumed run rebuilds them)."""
        raise NotImplementedError

    def pieces(self, batch: Any) -> Sequence[Any]:
        """The parts of a batch that go forward and backward one at a time (default: the whole batch)."""
        return [batch]

    def weight(self, piece: Any) -> float:
        """A piece's share of its step: each loss is divided by the step's total weight (default: a mean)."""
        return 1

    def loss(self, piece: Any) -> torch.Tensor:
        """The loss of one piece, with gradients (its sum over the piece when `weight` counts its units)."""
        raise NotImplementedError

    def split(self, piece: Any, parts: int) -> list[tuple[Any, float] | None]:
        """`piece` cut into `parts` shares for data-parallel ranks (None: no share), each with the factor its loss
        is scaled by so that the shares' gradients add up to the piece's. Default: a list of rows cut into
        contiguous slices; a loss that is a mean over rows is scaled by the slice's share of rows, one summed
        over the units `weight` counts (a task that overrides `weight`) by 1. Anything else goes whole to rank 0.
        """
        if not isinstance(piece, list) or len(piece) < 2:
            return [(piece, 1.0)] + [None] * (parts - 1)
        summed = type(self).weight is not TrainingTask.weight
        cuts = [piece[i * len(piece) // parts : (i + 1) * len(piece) // parts] for i in range(parts)]
        return [(cut, 1.0 if summed else len(cut) / len(piece)) if cut else None for cut in cuts]

    def after_step(self) -> None:
        """The step's optimizer update is done: statistics gathered during it may count now."""

    def evaluate(self, train_loss: float | None) -> dict[str, Any]:
        """The history entry of this step (besides "step"): held-out scores, running statistics.
        `train_loss`: the mean step loss since the last evaluation."""
        return {}

    def keep_best(self) -> None:
        """The model as it is now scored best so far: keep it (publish it, or remember its weights)."""

    def evaluated(self, loop: TrainingLoop) -> None:
        """After each evaluation (and keep-best): e.g. rewrite the run's record."""

    def describe(self, entry: dict[str, Any]) -> str | None:
        """A log line for a history entry (None: none)."""
        return None

    def postfix(self, loop: TrainingLoop) -> dict[str, str]:
        """What the progress bar shows beside the step count."""
        recent = loop.step_losses[-POSTFIX_WINDOW:]
        return {"loss": f"{sum(recent) / len(recent):.3f}"} if recent else {}

    def fingerprint(self) -> dict[str, Any]:
        """What must be unchanged for a checkpoint to resume: data, settings, examples (plain values)."""
        return {}

    def save(self, folder: Path) -> None:
        """Write the trainable weights into a checkpoint folder (they may go into `state` instead)."""

    def state(self) -> dict[str, Any]:
        """The task's own resumable state: tensors, numbers, strings and containers of them."""
        return {}

    def load(self, folder: Path, state: dict[str, Any]) -> None:
        """Restore what `save` and `state` wrote."""

    def upgrade(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """An older ragtune's checkpoint state in this format, or None when it cannot resume exactly."""
        return None


class TrainingLoop:
    """One run of a task: steps until done, early stop, time budget or `stop_after`; resumable exactly."""

    def __init__(self, task: TrainingTask, settings: LoopSettings, checkpoint: Path | None = None,
                 progress: bool = True):
        self.task, self.settings, self.checkpoint, self.progress = task, settings, checkpoint, progress
        self.total_steps = settings.total_steps
        self.schedule = (LinearSchedule(settings.total_steps, settings.warmup_ratio, settings.min_warmup)
                         if settings.warmup_ratio is not None else None)
        self.scheduler = (torch.optim.lr_scheduler.LambdaLR(task.optimizer, self.schedule)
                          if self.schedule is not None else None)
        self.params = [p for group in task.optimizer.param_groups for p in group["params"]]
        self.step = self.epoch = self.cursor = 0
        self.plan: Sequence[Any] = task.batches(0)
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.bad_evals = 0
        self.stopped_early = self.out_of_time = False
        #: step losses since the last evaluation, and every step's loss of this run
        self.window: list[float] = []
        self.step_losses: list[float] = []
        self.train_seconds = self.step_seconds = 0.0
        self.step_times: list[float] = []
        self.updating = False  # inside optimizer.step: weights may be half-updated, not worth a checkpoint
        self.parallel = DataParallel()
        #: rank 0 shows progress, evaluates and writes checkpoints for all ranks
        self.writes = self.parallel.rank == 0
        self.progress = progress and self.writes
        self.refitted = False  # the time budget refitted the schedule this step (the other ranks follow)

    # ---- data order -----------------------------------------------------------------------
    def _next_batch(self) -> Any:
        if self.cursor >= len(self.plan):
            self.epoch += 1
            self.plan, self.cursor = self.task.batches(self.epoch), 0
        batch = self.plan[self.cursor]
        self.cursor += 1
        return batch

    # ---- one step -------------------------------------------------------------------------
    def train_step(self) -> float:
        """One optimizer step over `grad_accum` batches; returns its loss (summed losses / total weight)."""
        pieces = [p for _ in range(self.settings.grad_accum) for p in self.task.pieces(self._next_batch())]
        total_weight = max(1, sum(self.task.weight(p) for p in pieces))
        total = 0.0
        for piece, scale in self.parallel.share(self.task, pieces):
            loss = self.task.loss(piece)
            (loss if total_weight == 1 and scale == 1 else loss * (scale / total_weight)).backward()
            total += loss.item() * scale
        total = self.parallel.reduce(self.params, total)  # every rank's gradients and losses, summed
        if self.settings.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.settings.max_grad_norm)
        self.updating = True
        self.task.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.task.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.updating = False
        self.task.after_step()
        release_free_memory()
        return total / total_weight

    # ---- evaluation -----------------------------------------------------------------------
    def evaluate(self, bar) -> None:
        if not self.writes:  # rank 0 evaluates; `_follow` brings its decisions here
            return
        start = time.perf_counter()
        train_loss = sum(self.window) / len(self.window) if self.window else None
        self.window = []
        entry = {"step": self.step, **self.task.evaluate(train_loss)}
        self.history.append(entry)
        metric = self.task.best_metric
        if metric is not None and metric in entry:
            if self.best is None or entry[metric] > self.best[metric]:
                self.best = {"step": self.step, **{k: entry[k] for k in self.task.best_fields}}
                self.bad_evals = 0
                self.task.keep_best()
            else:
                self.bad_evals += 1
                patience = self.settings.patience
                self.stopped_early = patience is not None and self.bad_evals >= patience
        self.task.evaluated(self)
        self.train_seconds += time.perf_counter() - start
        line = self.task.describe(entry)
        if line:
            bar.write(line, file=sys.stderr)  # also shown when stderr is a log file

    def _due(self, every: int | None) -> bool:
        return every is not None and (self.step % every == 0 or self.step == self.total_steps)

    # ---- checkpoints ----------------------------------------------------------------------
    def state(self, rng: dict[str, Any] | None = None, order: tuple[int, int] | None = None) -> dict[str, Any]:
        epoch, cursor = order or (self.epoch, self.cursor)
        return {"format": CHECKPOINT_FORMAT, "fingerprint": self.task.fingerprint(),
                "step": self.step, "epoch": epoch, "cursor": cursor, "total_steps": self.total_steps,
                "optimizer": self.task.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "rng": rng or capture_rng(), "history": self.history, "best": self.best,
                "bad_evals": self.bad_evals, "stopped_early": self.stopped_early, "window": self.window,
                "step_losses": self.step_losses, "train_seconds": self.train_seconds,
                "step_seconds": self.step_seconds, "step_times": self.step_times[-REFIT_EVERY:],
                "task": self.task.state()}

    def save(self, rng: dict[str, Any] | None = None, order: tuple[int, int] | None = None) -> None:
        """The checkpoint folder, replaced atomically: the task's weights and `state.pt`."""
        if self.checkpoint is None or not self.writes:
            return
        with atomic_dir(self.checkpoint) as tmp:
            self.task.save(tmp)
            save_state(tmp, self.state(rng, order))

    def restore(self) -> None:
        """Continue from the checkpoint: refused when it belongs to another run (data, settings, examples)."""
        out = self.checkpoint.parent
        found, state = load_state(self.checkpoint)
        if "format" not in state:
            state = self.task.upgrade(state) or state
        if state.get("format") != CHECKPOINT_FORMAT:
            raise RagtuneError(f"{out}: the checkpoint was written by an older ragtune and cannot be resumed "
                               "exactly; train into a new --out")
        for key, value in self.task.fingerprint().items():
            if state["fingerprint"].get(key) != value:
                raise RagtuneError(f"{out}: the checkpoint was made with other {key.replace('_', ' ')} (the data, "
                                   "the index or the settings changed); train into a new --out")
        self.task.load(found, state["task"])
        self.task.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for name in ("step", "epoch", "cursor", "total_steps", "history", "best", "bad_evals", "stopped_early",
                     "window", "step_losses", "train_seconds", "step_seconds", "step_times"):
            setattr(self, name, state[name])
        self.plan = self.task.batches(self.epoch)
        restore_rng(state["rng"])

    # ---- the run --------------------------------------------------------------------------
    def run(self, stop_after: int | None = None) -> bool:
        """Step until done, early stop or the time budget; False when `stop_after` steps ended it as an
        interruption would (checkpoint saved, schedule unchanged). Ctrl-C saves the last step boundary.
        A data-parallel rank other than 0 raises WorkerFinished at the end instead: the results are rank 0's."""
        finished = self._steps(stop_after)
        if not self.writes:
            raise WorkerFinished
        return finished

    def _steps(self, stop_after: int | None) -> bool:
        settings = self.settings
        bar = progress_bar(total=self.total_steps, initial=self.step, desc=settings.description, unit="step",
                           enabled=self.progress, every=settings.progress_every)
        try:
            if self.step == 0 and settings.eval_at_start and not self.history:
                self.evaluate(bar)
            while self.step < self.total_steps and not self.stopped_early:
                if stop_after is not None and self.step >= stop_after:
                    self.save()
                    return False
                boundary = (capture_rng(), (self.epoch, self.cursor)) if self.checkpoint is not None else None
                start = time.perf_counter()
                try:
                    loss = self.train_step()
                except KeyboardInterrupt:
                    if not self.updating and boundary is not None:
                        self.task.optimizer.zero_grad(set_to_none=True)
                        self.save(*boundary)
                    raise
                seconds = time.perf_counter() - start
                self.step_seconds += seconds
                self.train_seconds += seconds
                self.step_times.append(seconds)
                self.window.append(loss)
                self.step_losses.append(loss)
                self._fit_budget(bar)
                bar.set_postfix(self.task.postfix(self))
                bar.update(1)
                if self._due(settings.eval_every):
                    self.evaluate(bar)
                self._follow()
                if self._due(settings.save_every) or self.step == self.total_steps or self.stopped_early:
                    self.save()
                if self.out_of_time:
                    break
        finally:
            bar.close()
        return True

    def _follow(self) -> None:
        """Every rank takes rank 0's end, early stop and time budget (its own clock may differ), and refits its
        schedule when rank 0 did, to the same end."""
        if not self.parallel.active:
            return
        total, early, late, refitted = self.parallel.agree(self.total_steps, self.stopped_early, self.out_of_time,
                                                           self.refitted)
        self.total_steps, self.stopped_early, self.out_of_time = int(total), bool(early), bool(late)
        if refitted and not self.writes and self.schedule is not None:
            self.schedule.refit(self.total_steps)
        self.refitted = False

    def _fit_budget(self, bar) -> None:
        """Under a time budget: refit the schedule, every so often, to the steps the rest of it allows at the
        recent pace; past the budget, the run ends after this step."""
        budget = self.settings.max_minutes * 60 if self.settings.max_minutes else None
        if budget is None or not self.writes:
            return
        step = self.step
        if step >= TIMING_STEPS and step % REFIT_EVERY in (0, TIMING_STEPS):
            recent = self.step_times[-REFIT_EVERY:] if step > REFIT_EVERY else self.step_times[1:]
            fits = step + int((budget - self.train_seconds) / (sum(recent) / len(recent)))
            self.total_steps = max(step + 1, min(self.settings.total_steps, fits))
            self.refitted = True
            if self.schedule is not None:
                self.schedule.refit(self.total_steps)
            bar.total = self.total_steps
        self.out_of_time = self.train_seconds > budget
