"""Files and folders, safely: reading a user's file without blocking on it, hashing it, and writing a folder
so that a crash leaves either the old one or the new one, never half of each.

A FIFO would wait for a writer forever and a device such as /dev/zero never ends: every path ragtune reads
user data from goes through `open_regular`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ragtune.errors import LoadError


def open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for binary reading; LoadError if it is not a regular file (checked on the open file)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore the flag)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror or exc}") from None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise LoadError(path, "not a regular file")
    return handle


def read_regular(path: str | Path) -> bytes:
    """The bytes of a regular file (LoadError for anything else or an unreadable one)."""
    with open_regular(path) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise LoadError(path, f"cannot read: {exc.strerror or exc}") from None


def file_sha256(path: str | Path, check_size: Callable[[int], None] | None = None) -> str:
    """Hash a regular file; `check_size(bytes)` may refuse it (a size limit) before it is read."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        if check_size is not None:
            check_size(os.fstat(fh.fileno()).st_size)
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yields an empty sibling folder; when the block succeeds it replaces `target`, else it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        yield tmp
        replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(source: Path, target: Path) -> None:
    """Rename `source` onto `target`; an old `target` is moved aside first and deleted only afterwards."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
    os.rename(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def existing_dir(target: Path) -> Path | None:
    """`target`, or the old copy a crash between replace_dir's two renames left beside it."""
    if target.is_dir():
        return target
    old = sorted(target.parent.glob(f".{target.name}.old-*"))
    return old[0] if old else None


def fsync_dir(folder: Path) -> None:
    """Make renames and new entries in `folder` durable (a power cut must not undo an atomic swap)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
