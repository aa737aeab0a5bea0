"""Data-parallel training (`--workers N`): two gloo ranks take exactly the 1-worker step on the same global batch,
rank 0 alone evaluates and saves, and the CLI's 2-worker retriever run (and its `--resume`) matches 1 worker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import yaml

from ragtune.train.batches import shuffled_batches
from ragtune.train.loop import LoopSettings, TrainingLoop, TrainingTask, start_run

#: Adam divides by the root of tiny second moments, so summation-order noise in a gradient (1e-7) can move a
#: weight by ~1e-6 in a few steps of lr 1e-3; a lost or unaveraged gradient moves it by ~1e-3
ADAM_NOISE = 1e-5
SETTINGS = dict(total_steps=3, warmup_ratio=0.3, max_grad_norm=0.5, eval_every=2, eval_at_start=True, save_every=2)


class MeanRegression(TrainingTask):
    """A two-layer net fitting random targets with a mean loss per batch (so a rank's share is scaled by its
    rows); no dropout, so the ranks' forward passes draw nothing from the RNG."""

    best_metric, best_fields = "score", ("score",)

    def __init__(self, batch_size: int = 4, n: int = 12):
        start_run(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        data = torch.Generator().manual_seed(1)
        self.x, self.y = torch.randn(n, 3, generator=data), torch.randn(n, 1, generator=data)
        self.batch_size, self.n = batch_size, n
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.05)
        self.evaluations = 0

    def batches(self, epoch: int) -> list[list[int]]:
        return shuffled_batches(self.n, self.batch_size, 0, epoch)

    def loss(self, rows: list[int]) -> torch.Tensor:
        return ((self.model(self.x[rows]) - self.y[rows]) ** 2).mean()

    def evaluate(self, train_loss: float | None) -> dict:
        self.evaluations += 1
        with torch.no_grad():
            return {"score": -float(((self.model(self.x) - self.y) ** 2).mean())}

    def fingerprint(self) -> dict:
        return {"data": self.n}

    def state(self) -> dict:
        return {"weights": self.model.state_dict()}

    def load(self, folder, state: dict) -> None:
        self.model.load_state_dict(state["weights"])


def _train(grad_accum: int, checkpoint: Path | None) -> dict:
    from ragtune.errors import WorkerFinished

    task = MeanRegression()
    loop = TrainingLoop(task, LoopSettings(grad_accum=grad_accum, **SETTINGS), checkpoint, progress=False)
    try:
        finished = loop.run()
    except WorkerFinished:
        finished = "worker finished"
    return {"weights": {k: v.clone() for k, v in task.model.state_dict().items()}, "losses": loop.step_losses,
            "evaluations": task.evaluations, "finished": finished}


#: one step's pieces: one batch that each rank takes half of, or two batches dealt one to each rank
ACCUMULATIONS = (1, 2)


def _rank(rank: int, world: int, store: str, folder: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        runs = {accum: _train(accum, Path(folder) / f"checkpoint{accum}") for accum in ACCUMULATIONS}
        torch.save(runs, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_ranks_take_the_one_worker_step(tmp_path, monkeypatch):
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")  # the ranks talk over loopback only
    mp.spawn(_rank, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]

    for accum in ACCUMULATIONS:
        single = _train(accum, tmp_path / "single" / "checkpoint")
        first, second = ranks[0][accum], ranks[1][accum]
        for name, value in single["weights"].items():
            assert torch.equal(first["weights"][name], second["weights"][name]), name  # the same summed gradients
            torch.testing.assert_close(first["weights"][name], value, rtol=0, atol=1e-6)  # = the 1-worker step
        assert first["losses"] == pytest.approx(single["losses"], abs=1e-6)  # the global batch's loss
        assert (first["finished"], second["finished"]) == (True, "worker finished")
        assert (first["evaluations"], second["evaluations"]) == (single["evaluations"], 0)  # rank 0 evaluates
        assert (tmp_path / f"checkpoint{accum}" / "state.pt").is_file()  # rank 0 saved, the other wrote nothing


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_cli_two_workers_train_the_one_worker_query_adapter_and_resume(train_pipeline, squad_slice, tmp_path):
    """`train retriever --workers 2` writes the 1-worker adapter; a 1-worker run stopped at step 2 resumes on
    2 workers to the same adapter."""
    from safetensors.torch import load_file

    from ragtune.adapters import QUERY_ADAPTER_FILE
    from ragtune.train.retriever import train_retriever

    settings = dict(max_steps=4, batch_size=4, lr=1e-3, eval_fraction=0.0, save_every=2)
    config = train_pipeline.config.model_copy(update={
        "train_retriever": train_pipeline.config.train_retriever.model_copy(update=settings)})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    index = train_pipeline.index_dir

    one = ragtune("train", "retriever", squad_slice, "--index", index, "--out", tmp_path / "one", "--config", path)
    two = ragtune("train", "retriever", squad_slice, "--index", index, "--out", tmp_path / "two", "--config", path,
                  "--workers", "2")

    assert one.returncode == 0 and two.returncode == 0, two.stderr[-2000:]
    def report(done):  # what a run says, less its timing and folder
        return [re.sub(r" in [\d.]+s|→ \S+$", "", line) for line in done.stdout.splitlines()
                if line.startswith("trained")]

    assert report(two) == report(one) and len(report(one)) == 1  # rank 0 alone reports, the same losses
    reference = load_file(tmp_path / "one" / QUERY_ADAPTER_FILE)["weight"]
    assert reference.abs().sum() > 0  # the adapter moved from the identity
    torch.testing.assert_close(load_file(tmp_path / "two" / QUERY_ADAPTER_FILE)["weight"], reference, rtol=0,
                               atol=ADAM_NOISE)

    from ragtune.pipeline import Pipeline

    pipeline = Pipeline(index, config, embedder=train_pipeline.embedder, progress=False)
    assert train_retriever(pipeline, squad_slice, tmp_path / "resumed", progress=False, stop_after=2) is None
    resumed = ragtune("train", "retriever", squad_slice, "--index", index, "--out", tmp_path / "resumed", "--config",
                      path, "--resume", "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    torch.testing.assert_close(load_file(tmp_path / "resumed" / QUERY_ADAPTER_FILE)["weight"], reference, rtol=0,
                               atol=ADAM_NOISE)
