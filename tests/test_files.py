"""Every path a user names for data or config is refused unread when it is not a regular file (a FIFO would
block the open forever; /dev/zero never ends)."""

from __future__ import annotations

import os
import signal

import pytest

from ragtune.config import Config
from ragtune.errors import LoadError, RagtuneError
from ragtune.read.questions import load_questions
from ragtune.read.squad import parse_squad


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


@pytest.mark.parametrize("load", [load_questions, parse_squad, Config.load], ids=["questions", "squad", "config"])
def test_a_fifo_is_refused_not_waited_on(fifo, load):
    with pytest.raises(RagtuneError, match="not a regular file"):
        load(fifo)


def test_a_device_is_refused_not_read_forever(tmp_path):
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(LoadError, match="not a regular file"):
        load_questions(link)


def test_file_sha256_hashes_the_bytes_and_lets_a_size_check_refuse_first(tmp_path):
    import hashlib

    from ragtune.files import file_sha256

    data = tmp_path / "data.json"
    data.write_bytes(b"x" * 3_000_000)
    assert file_sha256(data) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    sizes = []
    assert file_sha256(data, sizes.append) and sizes == [3_000_000]

    def refuse(size):
        raise LoadError(data, f"{size} bytes is too large")

    with pytest.raises(LoadError, match="3000000 bytes is too large"):
        file_sha256(data, refuse)


def test_atomic_dir_replaces_the_folder_only_when_the_block_succeeds(tmp_path):
    from ragtune.files import atomic_dir

    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("first")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a").write_text("half")
        raise RuntimeError("crash")
    assert (target / "a").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp folder left
