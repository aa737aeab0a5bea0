"""A snapshot-format (1) index becomes an embedded (2) one once, atomically: the new catalog appears by rename
only when complete, and the old snapshot files are removed after it (until then a crash leaves the old index)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.backends.snapshot import _RAGTUNE_LEFTOVER, IndexStore, write_lock
from ragtune.index.engines import catalog


def migrate(folder: Path, config: Config) -> None:
    with write_lock(folder, create=False):
        if (folder / catalog.CATALOG).is_file():
            return  # another process migrated it while this one waited for the lock
        from ragtune.index.backends.embedded import EmbeddedIndex

        old = IndexStore.load(folder)
        index_config = config.index.model_copy(update={"bm25_k1": old.bm25.k1, "bm25_b": old.bm25.b})
        try:
            new = EmbeddedIndex.new(folder, config.model_copy(update={"index": index_config}), old.embedder, old.dim,
                                    old.script)
        except RagtuneError as exc:
            raise RagtuneError(f"{folder}: this index (format 1) cannot move to the embedded format: {exc}") from None
        new.replace(set(), dict(old.sources), list(old.passages), old.vectors(), old.tokens)
        new.commit()
        (folder / "CURRENT").unlink(missing_ok=True)
        for entry in folder.iterdir():
            if _RAGTUNE_LEFTOVER.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
