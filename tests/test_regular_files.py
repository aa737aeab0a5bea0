"""Every path a user names for data or config is refused unread when it is not a regular file (a FIFO would
block the open forever; /dev/zero never ends)."""

from __future__ import annotations

import os
import signal

import pytest

from ragtune.config import Config
from ragtune.errors import LoadError, RagtuneError
from ragtune.eval.datasets import load_eval_data
from ragtune.read.squad import load_squad_questions


@pytest.fixture(autouse=True)
def deadline():
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("blocked on a file that is not a regular one"))
    signal.alarm(10)
    yield
    signal.alarm(0)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("load", [load_eval_data, load_squad_questions, Config.load], ids=["eval", "train", "config"])
def test_a_fifo_is_refused_not_waited_on(fifo, load):
    with pytest.raises(RagtuneError, match="not a regular file"):
        load(fifo)


def test_a_device_is_refused_not_read_forever(tmp_path):
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(LoadError, match="not a regular file"):
        load_eval_data(link)
