"""The persistent index: passages, dense vectors and BM25, written as atomic snapshots.

Layout of an index folder::

    DIR/CURRENT              name of the live snapshot (replaced atomically)
    DIR/snap-<id>/           manifest.json, passages.jsonl, tokens.jsonl, vectors.npy, bm25/

A write builds a new snapshot in a temporary folder, renames it into place and only then
points CURRENT at it, so a crash at any moment leaves the previous snapshot live.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragtune.errors import RagtuneError
from ragtune.index.bm25 import BM25Index
from ragtune.index.script import script_normalizer
from ragtune.index.vectors import VectorIndex, create_vector_index

FORMAT_VERSION = 1


@dataclass
class Passage:
    """A stored chunk. `id` is its document's stable id; `chunk` numbers chunks within it."""

    id: str
    chunk: int
    title: str
    text: str
    source: str

    def to_json(self) -> dict:
        return {"id": self.id, "chunk": self.chunk, "title": self.title, "text": self.text, "source": self.source}


class IndexStore:
    """In-memory view of one snapshot, plus the means to write the next one."""

    def __init__(self, folder: Path, embedder: str, dim: int, vector_backend: str, bm25_k1: float, bm25_b: float,
                 script: str = "none"):
        self.folder = Path(folder)
        self.embedder = embedder
        #: script normalisation of the search views (index/script.py); "none" for indexes from before it existed
        self.script = script
        self._normalize = script_normalizer(script)
        self.dim = dim
        self.vector_backend = vector_backend
        self.passages: list[Passage] = []
        self.tokens: list[list[str]] = []
        self.sources: dict[str, dict] = {}
        self.extra: dict = {}
        self.vectors: VectorIndex = create_vector_index(vector_backend, dim)
        self.bm25 = BM25Index(bm25_k1, bm25_b)

    # ---- reading -------------------------------------------------------------------------
    @staticmethod
    def current_snapshot(folder: Path) -> Path | None:
        pointer = Path(folder) / "CURRENT"
        if not pointer.is_file():
            return None
        snap = Path(folder) / pointer.read_text().strip()
        return snap if (snap / "manifest.json").is_file() else None

    @classmethod
    def exists(cls, folder: Path) -> bool:
        return cls.current_snapshot(folder) is not None

    @classmethod
    def load(cls, folder: Path) -> IndexStore:
        snap = cls.current_snapshot(folder)
        if snap is None:
            raise RagtuneError(f"{folder}: no index here; run `ragtune read PATH... --index {folder}` first")
        try:
            manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT_VERSION:
                raise RagtuneError(f"{folder}: index format {manifest.get('format')} is not {FORMAT_VERSION}")
            store = cls(folder, manifest["embedder"], manifest["dim"], manifest["vector_backend"],
                        manifest["bm25_k1"], manifest["bm25_b"], manifest.get("script", "none"))
            store.sources = manifest["sources"]
            store.extra = manifest.get("extra", {})
            with open(snap / "passages.jsonl", encoding="utf-8") as fh:
                store.passages = [Passage(**json.loads(line)) for line in fh]
            with open(snap / "tokens.jsonl", encoding="utf-8") as fh:
                store.tokens = [json.loads(line) for line in fh]
            store.vectors.load(snap)
            store.bm25.load(snap, len(store.passages))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise RagtuneError(f"{folder}: index is damaged ({exc}); re-create it with `ragtune read`") from exc
        return store

    def __len__(self) -> int:
        return len(self.passages)

    def search_text(self, text: str) -> str:
        """`text` as this index's BM25 tokens and vectors see it (passages at read time, queries at ask time)."""
        return self._normalize(text)

    # ---- changing ------------------------------------------------------------------------
    def replace(self, removed_sources: set[str], new_sources: dict[str, dict], passages: list[Passage],
                vectors: np.ndarray, tokens: list[list[str]]) -> int:
        """Drop every passage of `removed_sources`, append the new ones, rebuild BM25; returns rows dropped."""
        keep = [i for i, p in enumerate(self.passages) if p.source not in removed_sources]
        dropped = len(self.passages) - len(keep)
        old_vectors = np.asarray(self.vectors.vectors())
        kept_vectors = old_vectors[keep] if len(keep) else np.zeros((0, self.dim), np.float32)
        self.passages = [self.passages[i] for i in keep] + passages
        self.tokens = [self.tokens[i] for i in keep] + tokens
        self.vectors.build(np.vstack([kept_vectors, np.asarray(vectors, np.float32).reshape(-1, self.dim)]))
        for key in removed_sources:
            self.sources.pop(key, None)
        self.sources.update(new_sources)
        self.bm25.build(self.tokens)
        return dropped

    def replace_vectors(self, embedder: str, vectors: np.ndarray) -> None:
        """Move every passage into another embedder's vector space (row-aligned `vectors`)."""
        vectors = np.asarray(vectors, np.float32)
        if len(vectors) != len(self.passages):
            raise ValueError(f"{len(vectors)} vectors for {len(self.passages)} passages")
        self.embedder, self.dim = embedder, int(vectors.shape[1])
        self.vectors = create_vector_index(self.vector_backend, self.dim)
        self.vectors.build(vectors)

    # ---- writing -------------------------------------------------------------------------
    @contextmanager
    def lock(self):
        """One writer at a time per index folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def save(self) -> Path:
        """Write a new snapshot atomically and make it current; old snapshots are removed after."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"snap-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".tmp-{name}"
        tmp.mkdir()
        try:
            manifest = {
                "format": FORMAT_VERSION, "embedder": self.embedder, "dim": self.dim,
                "vector_backend": self.vector_backend, "bm25_k1": self.bm25.k1, "bm25_b": self.bm25.b,
                "script": self.script, "passages": len(self.passages), "sources": self.sources, "extra": self.extra,
            }
            with open(tmp / "passages.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in self.passages)
            with open(tmp / "tokens.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in self.tokens)
            self.vectors.save(tmp)
            self.bm25.save(tmp)
            # The manifest goes last: a snapshot without one is never considered valid.
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            _fsync_tree(tmp)
            os.rename(tmp, self.folder / name)
            pointer_tmp = self.folder / f".CURRENT-{name}"
            pointer_tmp.write_text(name)
            os.replace(pointer_tmp, self.folder / "CURRENT")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._remove_stale(keep=name)
        return self.folder / name

    def _remove_stale(self, keep: str) -> None:
        for entry in self.folder.iterdir():
            if entry.name != keep and (entry.name.startswith("snap-") or entry.name.startswith(".tmp-")):
                shutil.rmtree(entry, ignore_errors=True)


def looks_like_index(folder: Path) -> bool:
    """Whether `folder` is (or was meant to be) a ragtune index: `read` never walks into one, and `save`
    only turns an empty folder or one of these into an index."""
    folder = Path(folder)
    return (folder / "CURRENT").is_file() or (folder / ".lock").is_file() or any(
        entry.name.startswith("snap-") and (entry / "manifest.json").is_file()
        for entry in _safe_iterdir(folder))


def _safe_iterdir(folder: Path) -> list[Path]:
    try:
        return [entry for entry in folder.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except OSError:
        return []


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
