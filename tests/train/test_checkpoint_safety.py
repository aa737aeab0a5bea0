"""`train --resume` reads checkpoint/state.pt without unpickling code: a crafted one is refused, ours round-trips."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from ragtune.errors import RagtuneError


class CreatesMarker:
    """What a malicious state.pt holds: unpickling it calls os.mkdir(marker)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    from ragtune.train.checkpoint import STATE_FILE, load_state

    marker = tmp_path / "code-ran"
    folder = tmp_path / "out" / "checkpoint"
    folder.mkdir(parents=True)
    torch.save({"step": 3, "rng": CreatesMarker(marker)}, folder / STATE_FILE)
    with pytest.raises(RagtuneError, match="not a checkpoint ragtune can load safely"):
        load_state(folder)
    assert not marker.exists()


def test_a_torn_state_file_is_a_one_line_error(tmp_path):
    from ragtune.train.checkpoint import STATE_FILE, load_state

    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / STATE_FILE).write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(RagtuneError, match="train into a new --out"):
        load_state(tmp_path / "checkpoint")


def test_training_state_round_trips_weights_only(tmp_path):
    """Optimizer, schedule, RNG and progress (numpy numbers included) load back and resume the same draws."""
    from ragtune.train.checkpoint import capture_rng, load_state, restore_rng, save_state

    weight = torch.nn.Parameter(torch.randn(4, 3))
    optimizer = torch.optim.AdamW([weight], lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / 10)
    weight.sum().backward()
    optimizer.step()
    scheduler.step()
    random.random(), np.random.rand(), torch.rand(1)
    rng = capture_rng()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    save_state(folder, {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng,
                        "step": 1, "plan": [[0, 1], [2]], "best": {"f1": np.float64(41.5), "step": np.int64(1)},
                        "history": [{"step": 1, "f1": np.float32(41.5)}], "stopped_early": False})
    found, state = load_state(folder)
    assert found == folder and state["best"] == {"f1": 41.5, "step": 1} and state["plan"] == [[0, 1], [2]]
    fresh = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(4, 3))], lr=1e-3)
    fresh.load_state_dict(state["optimizer"])
    torch.testing.assert_close(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert state["scheduler"]["last_epoch"] == 1
    restore_rng(state["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
