"""On-disk cache of generated answers, so re-running an eval or a report skips the slow generation."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ragtune.errors import RagtuneWarning
from ragtune.files import file_sha256
from ragtune.generate.base import Message, OnBatch

_SCHEMA = "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created REAL)"
#: what SQLite says of a file that is not (or no longer) a whole database; a locked or unwritable one is not this
_BROKEN = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
T = TypeVar("T")


#: an adapter folder's file that says how it was trained, not what it computes
_NOT_WEIGHTS = {"ragtune.json"}


def adapter_fingerprint(adapter: str | Path | None) -> str:
    """A hash of what the adapter folder computes with (its top-level files: weights, config, a reader's head), so
    retraining into the same folder misses the cache, while a copied or moved adapter keeps its answers."""
    if adapter is None:
        return ""
    path = Path(adapter).expanduser().resolve()
    if path.is_dir():
        folder, files = path, sorted(p for p in path.iterdir() if p.is_file() and p.name not in _NOT_WEIGHTS)
    else:
        folder, files = path.parent, [path] if path.is_file() else []
    if not files:
        return str(path)
    stats = tuple((p.name, st.st_size, st.st_mtime_ns) for p in files for st in [p.stat()])
    return _content_hash(folder, stats)


@functools.lru_cache(maxsize=64)
def _content_hash(folder: Path, stats: tuple) -> str:
    """sha256 over the names and contents of `stats`' files (the stats key the memo: ~40 ms a 0.5B LoRA)."""
    digest = hashlib.sha256()
    for name, _, _ in stats:
        digest.update(f"{name}\0{file_sha256(folder / name)}\0".encode())
    return digest.hexdigest()


class GenerationCache:
    """Raw generated answers in `<cache_dir>/generations.sqlite`, keyed by model, adapter, precision, prompt, length."""

    def __init__(self, cache_dir: str | Path, generator: str, adapter: str | Path | None, max_new_tokens: int,
                 precision: str = ""):
        self.path = Path(cache_dir).expanduser() / "generations.sqlite"
        self._prefix = json.dumps([generator, adapter_fingerprint(adapter), max_new_tokens] +
                                  ([precision] if precision else []))
        self.hits = 0
        self.misses = 0

    def key(self, messages: list[Message] | Any) -> str:
        body = json.dumps(messages, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(f"{self._prefix}\n{body}".encode()).hexdigest()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute(_SCHEMA)
        except BaseException:
            con.close()
            raise
        return con

    def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` on a connection; a corrupt file is moved aside (with a warning) and `work` runs on a new one.
        The cache only saves time: losing it must not stop an eval."""
        try:
            return self._run(work)
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _BROKEN:
                raise
            self._move_aside(exc)
        return self._run(work)

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        con = self._connect()
        try:
            return work(con)
        finally:
            con.close()

    def _move_aside(self, exc: sqlite3.DatabaseError) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        for suffix in ("", "-journal", "-wal", "-shm"):  # a hot journal belongs to the broken file
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        warnings.warn(f"{self.path}: corrupt generation cache ({exc}); moved aside to {aside.name} and "
                      "started a new one", RagtuneWarning, stacklevel=3)

    def get_many(self, keys: list[str]) -> dict[str, str]:
        def select(con: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = con.execute(f"SELECT key, answer FROM generations WHERE key IN ({marks})", chunk)
                found.update(dict(rows.fetchall()))
            return found

        return self._with_db(select)

    def put_many(self, items: dict[str, str]) -> None:
        def insert(con: sqlite3.Connection) -> None:
            with con:
                now = time.time()
                con.executemany("INSERT OR REPLACE INTO generations VALUES (?, ?, ?)",
                                [(k, v, now) for k, v in items.items()])

        self._with_db(insert)

    def generate(self, batch: list[Any], generate: Callable[[list[Any], OnBatch], list[str]],
                 key_material: list[Any] | None = None) -> list[str]:
        """Answers for `batch` in order; only prompts not yet cached (each once) reach `generate`, which
        reports each finished batch to the callback it is given: those are stored at once, so an interrupted
        eval or synth starts again where it stopped. Items are chat messages, or anything whose
        `key_material` (JSON-able, one per item) says what decides its answer."""
        keys = [self.key(m) for m in (batch if key_material is None else key_material)]
        known = self.get_many(list(dict.fromkeys(keys)))
        todo: dict[str, Any] = {}
        for key, messages in zip(keys, batch):
            if key not in known:
                todo.setdefault(key, messages)
        self.hits += len(batch) - sum(key not in known for key in keys)
        self.misses += len(todo)
        if todo:
            todo_keys, saved = list(todo), set()

            def save(done: dict[int, str]) -> None:
                self.put_many({todo_keys[i]: answer for i, answer in done.items()})
                saved.update(todo_keys[i] for i in done)

            answers = generate(list(todo.values()), save)
            fresh = dict(zip(todo, answers, strict=True))
            self.put_many({k: v for k, v in fresh.items() if k not in saved})
            known.update(fresh)
        return [known[key] for key in keys]
