"""Opening a file named by a user without blocking on it: a FIFO would wait for a writer forever, and a
device such as /dev/zero never ends. Every path ragtune reads user data from goes through here."""

from __future__ import annotations

import os
import stat
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
