"""release_free_memory gives freed heap pages back: the resident size falls after a burst of small buffers."""

from __future__ import annotations

import sys

import pytest

from ragtune.train.memory import release_free_memory


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc are Linux's")
def test_freed_heap_pages_go_back_to_the_os():
    # 100 KB blocks stay under malloc's mmap threshold, so they come from the heap; the last one is kept alive so
    # the heap cannot shrink from its top by itself, as a training step's live tensors keep it
    blocks = [bytearray(100_000) for _ in range(3000)]
    keep = blocks[-1]
    del blocks
    before = resident_mb()
    assert release_free_memory()
    after = resident_mb()
    assert before - after > 150, (before, after)
    assert len(keep) == 100_000
