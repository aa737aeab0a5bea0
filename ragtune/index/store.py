"""Where callers found the index before backends existed: the snapshot store and its helpers, re-exported."""

from ragtune.index.backends.snapshot import (
    FORMAT_VERSION,
    SNAPSHOT_NAME,
    IndexStore,
    live_snapshot,
    looks_like_index,
    write_lock,
)
from ragtune.index.passage import Passage

__all__ = ["FORMAT_VERSION", "SNAPSHOT_NAME", "IndexStore", "Passage", "live_snapshot", "looks_like_index",
           "write_lock"]
