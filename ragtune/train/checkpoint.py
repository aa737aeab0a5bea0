"""Checkpoint pieces: OUT's rules, RNG snapshots and a state file loaded without running code.

The training loop (train/loop.py) writes each checkpoint atomically from these, so a crash or Ctrl-C leaves a
complete one to resume from exactly."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ragtune.adapters import PEFT_FILES
from ragtune.errors import RagtuneError, first_line
from ragtune.files import existing_dir
from ragtune.train.distributed import is_rank_zero

STATE_FILE = "state.pt"
#: the folder inside a training run's OUT that `--resume` continues from
CHECKPOINT = "checkpoint"


def check_out(out: Path, resume: bool) -> None:
    """OUT must hold a checkpoint to resume, or be new or empty: a finished adapter is never trained over.
    Rank 0 alone checks in a data-parallel run: it alone writes OUT, and the other ranks may start later."""
    if not is_rank_zero():
        return
    if resume:
        if existing_dir(out / CHECKPOINT) is None:
            raise RagtuneError(f"{out}: nothing to resume (no {CHECKPOINT}/ folder)")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RagtuneError(f"{out} is not empty: pass --resume to continue its training, or choose a new --out")


def publish_files(source: Path, target: Path, names: tuple[str, ...] = PEFT_FILES) -> None:
    """Move files from `source` into `target`, each by an atomic os.replace."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(source / name, target / name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """Every generator training draws from, as tensors and plain values (what a weights-only load accepts)."""
    kind, key, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [kind, key.tolist(), int(pos), int(has_gauss),
                                                     float(cached_gaussian)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():  # dropout on a GPU draws from its own generators
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, key, pos, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached_gaussian))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def plain(value: Any) -> Any:
    """`value` with numpy scalars and arrays made Python numbers and lists, so the state holds only what
    `torch.load(weights_only=True)` rebuilds: tensors, containers, numbers, strings."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def save_state(folder: Path, state: dict[str, Any]) -> None:
    """`folder/state.pt`: optimizer, scheduler, RNG and progress, loadable without unpickling any code."""
    torch.save(plain(state), folder / STATE_FILE)


def load_state(folder: Path) -> tuple[Path, dict[str, Any]]:
    """(the checkpoint folder found, its `state.pt`), or a clear error when there is none to resume from.

    Loaded weights-only: a crafted `state.pt` (a pickle naming any other class or function) is refused
    before anything in it runs."""
    found = existing_dir(folder)
    if found is None or not (found / STATE_FILE).is_file():
        raise RagtuneError(f"{folder}: no checkpoint to resume from")
    try:
        # map to CPU: load_state_dict moves optimizer state onto each parameter's device
        state = torch.load(found / STATE_FILE, weights_only=True, map_location="cpu")
    except Exception as exc:  # UnpicklingError for foreign objects, RuntimeError for a torn file
        raise RagtuneError(f"{found / STATE_FILE}: not a checkpoint ragtune can load safely ({first_line(exc)}); "
                           "train into a new --out") from exc
    if not isinstance(state, dict):
        raise RagtuneError(f"{found / STATE_FILE}: not a ragtune checkpoint; train into a new --out")
    return found, state

