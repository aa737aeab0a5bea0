"""The training loop on a tiny torch model (no LLM): schedule, accumulation, keep-best and patience, time budget,
and a checkpoint that resumes exactly, after `stop_after` or Ctrl-C."""

from __future__ import annotations

import pytest
import torch

from ragtune.errors import RagtuneError
from ragtune.train.batches import shuffled_batches
from ragtune.train.checkpoint import load_state, save_state
from ragtune.train.loop import LinearSchedule, LoopSettings, TrainingLoop, TrainingTask, start_run


class Regression(TrainingTask):
    """A two-layer net with dropout fitting random targets: dropout draws from the RNG a resume must restore."""

    best_metric, best_fields = "score", ("score",)

    def __init__(self, batch_size: int = 2, n: int = 8, scores: list[float] | None = None):
        start_run(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))
        data = torch.Generator().manual_seed(1)
        self.x, self.y = torch.randn(n, 3, generator=data), torch.randn(n, 1, generator=data)
        self.batch_size, self.n = batch_size, n
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.05)
        self.scores = scores  # scripted evaluation scores, else the negative training-set error
        self.kept: list[int] = []
        self.calls = 0

    def batches(self, epoch: int) -> list[list[int]]:
        return shuffled_batches(self.n, self.batch_size, 0, epoch)

    def weight(self, rows: list[int]) -> int:
        return len(rows)

    def loss(self, rows: list[int]) -> torch.Tensor:
        self.calls += 1
        return ((self.model(self.x[rows]) - self.y[rows]) ** 2).sum()

    def evaluate(self, train_loss: float | None) -> dict:
        if self.scores is not None:
            return {"score": self.scores.pop(0)}
        self.model.eval()
        with torch.no_grad():
            score = -float(((self.model(self.x) - self.y) ** 2).mean())
        self.model.train()
        return {"loss": train_loss, "score": score}

    def keep_best(self) -> None:
        self.kept.append(self.calls)

    def fingerprint(self) -> dict:
        return {"data": self.n}

    def state(self) -> dict:
        return {"weights": self.model.state_dict()}

    def load(self, folder, state: dict) -> None:
        self.model.load_state_dict(state["weights"])


def weights(task: Regression) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in task.model.state_dict().items()}


SETTINGS = dict(total_steps=7, warmup_ratio=0.3, max_grad_norm=0.5, eval_every=2, eval_at_start=True, save_every=3)


def test_schedule_warms_up_then_decays_to_zero_and_a_refit_never_lengthens_warmup():
    schedule = LinearSchedule(total=10, warmup_ratio=0.2)
    assert schedule.warmup == 2
    assert [schedule(s) for s in range(4)] == [1 / 3, 2 / 3, 1.0, 7 / 8]
    assert schedule(10) == 0.0 and schedule(12) == 0.0
    assert LinearSchedule(total=10, warmup_ratio=0.0).warmup == 0
    assert LinearSchedule(total=10, warmup_ratio=0.0, min_warmup=1).warmup == 1
    schedule.refit(5)
    assert schedule.total == 5 and schedule.warmup == 1 and schedule(4) == 0.25
    schedule.refit(100)
    assert schedule.warmup == 1


def test_the_scheduler_follows_the_schedule():
    task = Regression()
    loop = TrainingLoop(task, LoopSettings(total_steps=4, warmup_ratio=0.25), progress=False)
    lrs = []
    for _ in range(4):
        lrs.append(task.optimizer.param_groups[0]["lr"])
        loop.train_step()
    assert lrs == pytest.approx([0.05 * f for f in (0.5, 1.0, 2 / 3, 1 / 3)])


def test_accumulated_batches_equal_one_batch_of_their_rows():
    """Two batches of one accumulated = one batch of two: the loss is per row over the whole step."""
    one = Regression(batch_size=1)
    one.model[1].p = 0.0  # no dropout: the two runs draw differently
    TrainingLoop(one, LoopSettings(total_steps=3, grad_accum=2, max_grad_norm=1.0), progress=False).run()
    two = Regression(batch_size=1)
    two.model[1].p = 0.0
    two.batches = lambda epoch: [[a[0], b[0]] for a, b in zip(*[iter(shuffled_batches(8, 1, 0, epoch))] * 2)]
    TrainingLoop(two, LoopSettings(total_steps=3, max_grad_norm=1.0), progress=False).run()
    for name, tensor in weights(one).items():
        torch.testing.assert_close(tensor, weights(two)[name], rtol=0, atol=1e-6)


def test_the_best_step_is_kept_and_patience_stops_the_run():
    task = Regression(scores=[0.2, 0.5, 0.4, 0.5, 0.1, 0.9])
    loop = TrainingLoop(task, LoopSettings(total_steps=20, eval_every=2, eval_at_start=True, patience=3),
                        progress=False)
    assert loop.run()
    # scored at steps 0 (0.2), 2 (0.5, best), 4, 6, 8 (none better: three in a row) -> stops at step 8
    assert [h["step"] for h in loop.history] == [0, 2, 4, 6, 8] and loop.stopped_early and loop.step == 8
    assert loop.best == {"step": 2, "score": 0.5}
    assert task.kept == [0, 2]  # keep_best ran at step 0 and step 2 (losses computed so far)


def test_a_time_budget_refits_the_schedule_and_ends_the_run(monkeypatch):
    import ragtune.train.loop as loop_module

    clock = iter(range(0, 10_000))  # every perf_counter call is one second later
    monkeypatch.setattr(loop_module.time, "perf_counter", lambda: float(next(clock)))
    task = Regression()
    loop = TrainingLoop(task, LoopSettings(total_steps=1000, warmup_ratio=0.1, max_minutes=0.5), progress=False)
    assert loop.run()
    assert loop.out_of_time and 25 <= loop.step <= 31
    assert loop.total_steps < 1000 and loop.schedule.total == loop.total_steps
    assert loop.schedule.warmup <= round(0.1 * loop.total_steps) + 1


def test_stop_after_then_resume_ends_exactly_where_a_straight_run_does(tmp_path):
    straight = Regression()
    reference = TrainingLoop(straight, LoopSettings(**SETTINGS), tmp_path / "a" / "checkpoint", progress=False)
    assert reference.run()
    interrupted = Regression()
    first = TrainingLoop(interrupted, LoopSettings(**SETTINGS), tmp_path / "b" / "checkpoint", progress=False)
    assert not first.run(stop_after=3)
    assert load_state(tmp_path / "b" / "checkpoint")[1]["step"] == 3
    resumed = Regression()
    again = TrainingLoop(resumed, LoopSettings(**SETTINGS), tmp_path / "b" / "checkpoint", progress=False)
    again.restore()
    assert again.run()
    assert again.history == reference.history and again.best == reference.best
    assert again.step_losses == reference.step_losses
    for name, tensor in weights(straight).items():
        assert torch.equal(tensor, weights(resumed)[name]), name


def test_ctrl_c_inside_a_step_saves_the_step_boundary(tmp_path):
    straight = Regression()
    TrainingLoop(straight, LoopSettings(**SETTINGS), progress=False).run()
    task = Regression()
    loss = task.loss

    def interrupted(rows):
        result = loss(rows)  # dropout has drawn: the boundary's RNG must be the one saved
        if task.calls == 5:
            raise KeyboardInterrupt
        return result

    task.loss = interrupted
    with pytest.raises(KeyboardInterrupt):
        TrainingLoop(task, LoopSettings(**SETTINGS), tmp_path / "checkpoint", progress=False).run()
    assert load_state(tmp_path / "checkpoint")[1]["step"] == 4
    resumed = Regression()
    loop = TrainingLoop(resumed, LoopSettings(**SETTINGS), tmp_path / "checkpoint", progress=False)
    loop.restore()
    loop.run()
    for name, tensor in weights(straight).items():
        assert torch.equal(tensor, weights(resumed)[name]), name


def test_a_checkpoint_of_another_run_or_an_older_format_is_refused(tmp_path):
    folder = tmp_path / "out" / "checkpoint"
    TrainingLoop(Regression(), LoopSettings(**SETTINGS), folder, progress=False).run(stop_after=2)
    other = Regression(n=6)
    with pytest.raises(RagtuneError, match="checkpoint was made with other data"):
        TrainingLoop(other, LoopSettings(**SETTINGS), folder, progress=False).restore()
    save_state(folder, {"step": 2, "plan": [[0, 1]]})  # what an older ragtune wrote
    with pytest.raises(RagtuneError, match="older ragtune.*train into a new --out"):
        TrainingLoop(Regression(), LoopSettings(**SETTINGS), folder, progress=False).restore()
