"""Data-parallel training: `ragtune train ... --workers N` runs N copies of the command under torchrun.

Every rank builds the same data and the same batches (seeded); the training loop gives each rank its share of
every global batch and adds the ranks' gradients with one all-reduce before each optimizer step, so every rank
holds the same weights and a step equals the 1-worker step on the same global batch (TrainingLoop). Rank 0
alone logs, evaluates and writes checkpoints and adapters; the other ranks end with the loop (`WorkerFinished`).
gloo on CPU, NCCL on GPUs, the same code.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import torch
import torch.distributed as dist

from ragtune.config import DistributedConfig
from ragtune.errors import RagtuneError

#: the launcher tells its ranks which backend to join with
BACKEND_ENV = "RAGTUNE_DIST_BACKEND"
#: a rank waits this long in a collective (rank 0 evaluating a generator can take many minutes)
COLLECTIVE_TIMEOUT = timedelta(hours=2)


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_rank_zero() -> bool:
    return rank() == 0


def launched() -> bool:
    """Whether this process is one rank of a torchrun launch."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launch(settings: DistributedConfig) -> bool:
    """In the command the user ran with `--workers N` (N > 1): run it again as N torchrun ranks on this machine
    and wait; True when done (the caller stops). False inside a rank, or for one worker: train here."""
    if settings.workers <= 1 or launched():
        return False
    env = {**os.environ, BACKEND_ENV: _backend(settings.backend),
           "OMP_NUM_THREADS": str(settings.threads_per_worker or max(1, (os.cpu_count() or 1) // settings.workers))}
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # the ranks talk over loopback only
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={settings.workers}",
               "--master-addr=127.0.0.1", f"--master-port={_free_port()}", "-m", "ragtune.cli", *sys.argv[1:]]
    done = subprocess.run(command, env=env)
    if done.returncode != 0:
        raise RagtuneError(f"data-parallel training failed: a worker exited with status {done.returncode} "
                           "(its error is above)")
    return True


def join() -> None:
    """Inside a torchrun rank: join the process group before any model is loaded (a GPU rank takes its own
    device first), and keep the ranks other than 0 quiet."""
    if not launched() or dist.is_initialized():
        return
    backend = os.environ.get(BACKEND_ENV) or _backend("auto")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)


def leave() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _backend(name: str) -> str:
    if name == "auto":
        return "nccl" if torch.cuda.is_available() else "gloo"
    if name not in ("gloo", "nccl"):
        raise RagtuneError(f"distributed.backend {name!r}: use auto, gloo or nccl")
    return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DataParallel:
    """This rank's part of each step: its share of the pieces, and the all-reduce that adds up the ranks'
    gradients and losses. With one worker it hands back every piece and reduces nothing."""

    def __init__(self):
        self.rank, self.size = rank(), world_size()

    @property
    def active(self) -> bool:
        return self.size > 1

    def share(self, task, pieces: list) -> list[tuple[object, float]]:
        """(piece, loss scale) pairs this rank computes: whole pieces dealt round-robin when there are enough
        to go round, else every piece cut by `task.split`; the shares' scaled gradients add up to the step's."""
        if not self.active:
            return [(piece, 1.0) for piece in pieces]
        if len(pieces) >= self.size:
            return [(piece, 1.0) for piece in pieces[self.rank :: self.size]]
        mine = [task.split(piece, self.size)[self.rank] for piece in pieces]
        return [share for share in mine if share is not None]

    def reduce(self, params: list[torch.Tensor], loss: float) -> float:
        """Sum every rank's gradients and losses in one all-reduce; returns the summed loss. A parameter that no
        rank's pieces reached keeps no gradient, as in a 1-worker step (the optimizer skips it)."""
        if not self.active:
            return loss
        device = params[0].device
        grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in params]
        reached = [float(p.grad is not None) for p in params]
        flat = torch.cat(grads + [torch.tensor([*reached, loss], device=device)])
        dist.all_reduce(flat)
        offset = 0
        for i, p in enumerate(params):
            n = p.numel()
            reached_any = flat[-1 - len(params) + i] > 0
            p.grad = flat[offset : offset + n].view_as(p).to(p.dtype).clone() if reached_any else None
            offset += n
        return float(flat[-1])

    def agree(self, *values: float) -> list[float]:
        """Rank 0's values (the end of the run, early stop, time budget) on every rank."""
        if not self.active:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        if dist.get_backend() == "nccl":
            tensor = tensor.cuda()
        dist.broadcast(tensor, 0)
        return tensor.tolist()
