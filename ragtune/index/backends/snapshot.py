"""The snapshot index (format 1): passages, dense vectors and BM25, each write a whole new atomic snapshot.

Layout of an index folder::

    DIR/CURRENT              name of the live snapshot (replaced atomically)
    DIR/snap-<id>/           manifest.json, passages.jsonl, tokens.jsonl, vectors.npy, bm25/

A write builds a new snapshot in a temporary folder, renames it into place and only then
points CURRENT at it, so a crash at any moment leaves the previous snapshot live. Writers hold
DIR/.lock from before they load until after they save, so none loses another's write. The
snapshot a save replaces stays until the next save, for readers that were just opening it.
A load cross-checks every part's passage count and explains a damaged index without deleting.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.files import fsync_dir
from ragtune.index.backends.base import IndexBackend, Location
from ragtune.index.bm25 import BM25Index
from ragtune.index.passage import Passage
from ragtune.index.script import script_normalizer
from ragtune.index.vectors import VectorIndex, create_vector_index

FORMAT_VERSION = 1
#: how snapshot text files are written and read: UTF-8, and a source path that is not UTF-8 (a lone surrogate
#: in Python) passes through unchanged, so the next `read` still recognises the file
_TEXT = {"encoding": "utf-8", "errors": "surrogatepass"}


class IndexStore(IndexBackend):
    """In-memory view of one snapshot, plus the means to write the next one (`index.backend: snapshot`; the
    embedded backend migrates these folders to its own format on first open)."""

    name = "snapshot"

    def __init__(self, folder: Path, embedder: str, dim: int, vector_backend: str, bm25_k1: float, bm25_b: float,
                 script: str = "none"):
        self.folder = Path(folder)
        self.embedder = embedder
        #: script normalisation of the search views (index/script.py); "none" for indexes from before it existed
        self.script = script
        self._normalize = script_normalizer(script)
        self.dim = dim
        self.vector_backend = vector_backend
        self._passages: list[Passage] = []
        self.tokens: list[list[str]] = []
        self._sources: dict[str, dict] = {}
        self.extra: dict = {}
        self.dense: VectorIndex = create_vector_index(vector_backend, dim)
        self.bm25 = BM25Index(bm25_k1, bm25_b)

    # ---- the backend interface -----------------------------------------------------------
    @classmethod
    def open(cls, location: Location, config: Config | None = None) -> IndexStore:
        return cls.load(Path(location))

    @classmethod
    def create(cls, location: Location, config: Config, embedder: str, dim: int) -> IndexStore:
        c = config.index
        return cls(Path(location), embedder, dim, c.vector_backend, c.bm25_k1, c.bm25_b, c.script)

    @classmethod
    def version(cls, location: Location) -> str | None:
        snap = cls.current_snapshot(Path(location))
        return snap.name if snap is not None else None

    @classmethod
    def write_lock(cls, location: Location, create: bool = True):
        return write_lock(Path(location), create)

    def lock(self):
        """One writer at a time per index folder (see `write_lock`)."""
        return write_lock(self.folder)

    @property
    def location(self) -> Path:
        return self.folder

    @property
    def passages(self) -> list[Passage]:
        return self._passages

    @property
    def sources(self) -> dict[str, dict]:
        return self._sources

    def source_passages(self, source: str) -> list[Passage]:
        return [p for p in self._passages if p.source == source]

    def lexical_top(self, tokens: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
        scores = self.bm25.scores(tokens)
        rows = np.flatnonzero(scores > 0)
        rows = rows[np.lexsort((rows, -scores[rows]))][:n]  # best first, ties by row
        return rows, scores[rows]

    def lexical_scores(self, tokens: list[str], rows: np.ndarray) -> np.ndarray:
        return self.bm25.scores(tokens)[np.asarray(rows, np.int64)]

    def dense_top(self, vectors: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.dense.search(vectors, n)

    def vectors(self) -> np.ndarray:
        return self.dense.vectors()

    def commit(self) -> str:
        return self.save().name

    def optimize(self) -> None:
        """Nothing to do: every save writes a whole, compact snapshot."""

    # ---- reading -------------------------------------------------------------------------
    @staticmethod
    def current_snapshot(folder: Path) -> Path | None:
        """The snapshot CURRENT names, if it has a manifest (`live_snapshot` is the one a load reads)."""
        return _complete_snapshot(Path(folder), _pointer(Path(folder)))

    @classmethod
    def exists(cls, folder: Path) -> bool:
        """Whether `folder` holds an index to load (maybe a damaged one, which `load` then explains)."""
        folder = Path(folder)
        return (folder / "CURRENT").is_file() or any(SNAPSHOT_NAME.fullmatch(e.name) for e in _safe_iterdir(folder))

    @classmethod
    def load(cls, folder: Path) -> IndexStore:
        """The live snapshot, cross-checked."""
        return _from_live_snapshot(Path(folder), lambda snap: cls._load_snapshot(Path(folder), snap))

    @classmethod
    def manifest(cls, folder: Path) -> dict:
        """The live snapshot's manifest alone (its embedder, its size), without loading the index."""

        def read(snap: Path) -> dict:
            with _reading("manifest.json"):
                return json.loads((snap / "manifest.json").read_text(**_TEXT))

        return _from_live_snapshot(Path(folder), read)

    @classmethod
    def _load_snapshot(cls, folder: Path, snap: Path) -> IndexStore:
        with _reading("manifest.json"):
            manifest = json.loads((snap / "manifest.json").read_text(**_TEXT))
            if manifest.get("format") != FORMAT_VERSION:
                raise RagtuneError(f"{folder}: index format {manifest.get('format')} is not {FORMAT_VERSION}")
            store = cls(folder, manifest["embedder"], manifest["dim"], manifest["vector_backend"],
                        manifest["bm25_k1"], manifest["bm25_b"], manifest.get("script", "none"))
            store._sources = manifest["sources"]
            store.extra = manifest.get("extra", {})
        with _reading("passages.jsonl"), open(snap / "passages.jsonl", **_TEXT) as fh:
            store._passages = [_passage(json.loads(line)) for line in fh]
        with _reading("tokens.jsonl"), open(snap / "tokens.jsonl", **_TEXT) as fh:
            store.tokens = [_interned(json.loads(line)) for line in fh]
        with _reading("vectors"):
            store.dense.load(snap)
        with _reading("bm25/"):
            store.bm25.load(snap, len(store.passages))
        with _reading("manifest.json"):
            _cross_check(manifest, store)
        return store

    def __len__(self) -> int:
        return len(self._passages)

    def search_text(self, text: str) -> str:
        """`text` as this index's BM25 tokens and vectors see it (passages at read time, queries at ask time)."""
        return self._normalize(text)

    # ---- changing ------------------------------------------------------------------------
    def replace(self, removed_sources: set[str], new_sources: dict[str, dict], passages: list[Passage],
                vectors: np.ndarray, tokens: list[list[str]]) -> int:
        """Drop every passage of `removed_sources`, append the new ones, rebuild BM25; returns rows dropped."""
        keep = [i for i, p in enumerate(self.passages) if p.source not in removed_sources]
        dropped = len(self.passages) - len(keep)
        old_vectors = np.asarray(self.dense.vectors())
        kept_vectors = old_vectors[keep] if len(keep) else np.zeros((0, self.dim), np.float32)
        self._passages = [self.passages[i] for i in keep] + passages
        self.tokens = [self.tokens[i] for i in keep] + [_interned(t) for t in tokens]
        self.dense.build(np.vstack([kept_vectors, np.asarray(vectors, np.float32).reshape(-1, self.dim)]))
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
        self.dense = create_vector_index(self.vector_backend, self.dim)
        self.dense.build(vectors)

    # ---- writing -------------------------------------------------------------------------
    def save(self) -> Path:
        """Write a new snapshot atomically and make it current; snapshots older than the one before are removed.

        A failure to write (a full disk) is a one-line RagtuneError; the temporary folder is removed and the
        previous snapshot stays live.
        """
        with write_lock(self.folder):
            previous = _live_name(self.folder)
            name = f"snap-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
            try:
                self._write_snapshot(name)
            except OSError as exc:
                still = "the previous index is still live" if previous else "no index was written"
                raise RagtuneError(f"{self.folder}: could not write a new index snapshot "
                                   f"({exc.strerror or exc}); {still}") from exc
            self._remove_stale(keep={name, previous})
        return self.folder / name

    def _write_snapshot(self, name: str) -> None:
        tmp = self.folder / f".tmp-{name}"
        final = self.folder / name
        pointer_tmp = self.folder / f".CURRENT-{name}"
        try:
            tmp.mkdir()
            manifest = {
                "format": FORMAT_VERSION, "embedder": self.embedder, "dim": self.dim,
                "vector_backend": self.vector_backend, "bm25_k1": self.bm25.k1, "bm25_b": self.bm25.b,
                "script": self.script, "passages": len(self.passages), "sources": self.sources, "extra": self.extra,
            }
            with open(tmp / "passages.jsonl", "w", **_TEXT) as fh:
                fh.writelines(json.dumps(p.to_json(), ensure_ascii=False) + "\n" for p in self.passages)
            with open(tmp / "tokens.jsonl", "w", **_TEXT) as fh:
                fh.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in self.tokens)
            self.dense.save(tmp)
            self.bm25.save(tmp)
            # The manifest goes last: a snapshot without one is never considered valid.
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), **_TEXT)
            _fsync_tree(tmp)
            os.rename(tmp, final)
            pointer_tmp.write_text(name)
            _fsync_file(pointer_tmp)
            os.replace(pointer_tmp, self.folder / "CURRENT")
            fsync_dir(self.folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            pointer_tmp.unlink(missing_ok=True)
            if _pointer(self.folder) != name:
                shutil.rmtree(final, ignore_errors=True)
            raise

    def _remove_stale(self, keep: set[str | None]) -> None:
        """Remove what earlier writes left: complete snapshots other than `keep` (the new one and the one it
        replaced, which a reader may still be opening) and interrupted writes' temporaries. Only names ragtune
        makes match, and a snapshot is renamed to a temporary before it is deleted, so a snapshot-named folder
        without a manifest is never ragtune's leftover and stays."""
        for entry in self.folder.iterdir():
            if entry.name in keep or not _RAGTUNE_LEFTOVER.fullmatch(entry.name):
                continue
            try:
                if SNAPSHOT_NAME.fullmatch(entry.name):
                    if not (entry / "manifest.json").is_file():
                        continue
                    entry = entry.rename(self.folder / f".tmp-{entry.name}")
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except OSError:
                continue  # gone already, or not ours to remove: the next write tries again


#: names of what ragtune writes in an index folder; nothing else there is ever removed
SNAPSHOT_NAME = re.compile(r"snap-\d{14}-[0-9a-f]{8}")
_RAGTUNE_LEFTOVER = re.compile(rf"(?:\.tmp-|\.CURRENT-)?{SNAPSHOT_NAME.pattern}")
#: a reader whose snapshot a writer removed (two saves later) reloads from CURRENT this many times
LOAD_ATTEMPTS = 5
_held = threading.local()
T = TypeVar("T")


def _from_live_snapshot(folder: Path, read: Callable[[Path], T]) -> T:
    """`read(snapshot)` of the live snapshot; done again when a writer swapped CURRENT and removed the snapshot
    under this reader (a snapshot stays for one more save, so this is rare), a damaged-index error otherwise."""
    for attempt in range(LOAD_ATTEMPTS):
        snap = live_snapshot(folder)
        try:
            return read(snap)
        except _Damage as exc:
            if (snap / "manifest.json").is_file() and live_snapshot(folder) == snap:
                raise RagtuneError(_damaged(folder, snap, str(exc))) from exc
            time.sleep(0.05 * (attempt + 1))
    raise RagtuneError(f"{folder}: the index changed {LOAD_ATTEMPTS} times while it was being loaded "
                       "(a writer is saving often); try again")


@contextmanager
def write_lock(folder: Path, create: bool = True):
    """Hold the index folder's write lock; a writer loads the index only inside it, so no write is lost.

    Re-entrant within a thread (`save` takes it too). `create=False` refuses a folder that is no index;
    otherwise the folder must be new, empty or an index: ragtune never turns someone's own folder into one.
    """
    folder = Path(folder)
    held: set[str] = _held.__dict__.setdefault("folders", set())
    key = str(folder.resolve())
    if key in held:
        yield
        return
    if not looks_like_index(folder):
        if not create:
            raise RagtuneError(f"{folder}: no index here; run `ragtune read PATH... --index {folder}` first")
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise RagtuneError(f"{folder}: not a ragtune index and not empty; give --index a new or empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # say why nothing happens rather than look hung
            print(f"{folder}: another ragtune command is writing this index; waiting for it to finish",
                  file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(fh, fcntl.LOCK_UN)


def live_snapshot(folder: Path) -> Path:
    """The snapshot a load reads: the one CURRENT names or, when CURRENT is missing or names a snapshot
    without a manifest (a copy cut short, a crash before the first pointer write), the newest complete one.
    An index with neither is refused, never taken for an empty one."""
    folder = Path(folder)
    name = _pointer(folder)
    named = _complete_snapshot(folder, name)
    if named is not None:
        return named
    complete = _snapshots(folder)
    if complete:
        return complete[0]
    if name is None and not any(SNAPSHOT_NAME.fullmatch(e.name) for e in _safe_iterdir(folder)):
        raise RagtuneError(f"{folder}: no index here; run `ragtune read PATH... --index {folder}` first")
    what = (f"CURRENT names {name!r}, which has no manifest.json" if name is not None
            else "CURRENT is missing and no snapshot has a manifest.json")
    raise RagtuneError(f"{folder}: index is damaged: {what}; no complete snapshot is left to recover, so "
                       "read the documents into a new --index folder (this one is left as it is)")


def _live_name(folder: Path) -> str | None:
    try:
        return live_snapshot(folder).name
    except RagtuneError:
        return None


def looks_like_index(folder: Path) -> bool:
    """Whether `folder` is (or was meant to be) a ragtune index: `read` never walks into one, and `save`
    only turns an empty folder or one of these into an index."""
    folder = Path(folder)
    return IndexStore.exists(folder) or (folder / ".lock").is_file() or (folder / "catalog.sqlite").is_file()


def _pointer(folder: Path) -> str | None:
    """What CURRENT says (None without a readable CURRENT)."""
    try:
        return (folder / "CURRENT").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _complete_snapshot(folder: Path, name: str | None) -> Path | None:
    """folder/name if `name` is a plain folder name there holding a manifest (CURRENT may be edited by hand)."""
    if not name or "/" in name or name in (".", ".."):
        return None
    snap = folder / name
    return snap if (snap / "manifest.json").is_file() else None


def _snapshots(folder: Path) -> list[Path]:
    """Complete snapshots (named as ragtune names them, with a manifest), newest first."""
    found = []
    for entry in _safe_iterdir(folder):
        if SNAPSHOT_NAME.fullmatch(entry.name):
            try:
                found.append((entry.name[5:19], (entry / "manifest.json").stat().st_mtime_ns, entry))
            except OSError:
                continue
    return [entry for *_, entry in sorted(found, reverse=True)]


class _Damage(Exception):
    """What is wrong with one snapshot's files, for the one-line damaged-index error."""


@contextmanager
def _reading(part: str):
    try:
        yield
    except FileNotFoundError as exc:
        raise _Damage(f"{part} is missing") from exc
    except OSError as exc:
        raise _Damage(f"{part}: {exc.strerror or exc}") from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise _Damage(f"{part} is unreadable ({type(exc).__name__}: {exc})") from exc


def _cross_check(manifest: dict, store: IndexStore) -> None:
    """Every part of a snapshot describes the same passages, or the snapshot is damaged."""
    rows = {"manifest.json": manifest["passages"], "passages.jsonl": len(store.passages),
            "tokens.jsonl": len(store.tokens), "vectors": len(store.vectors()),
            "bm25/": store.bm25.documents if manifest["passages"] else 0}
    if len(set(rows.values())) > 1:
        raise _Damage("its parts disagree on the passage count (" +
                      ", ".join(f"{part} {n}" for part, n in rows.items()) + ")")
    shape = np.shape(store.vectors())
    if len(shape) != 2 or shape[1] != store.dim:
        raise _Damage(f"vectors have shape {shape}, the manifest says {store.dim} dimensions")


def _damaged(folder: Path, snap: Path, problem: str) -> str:
    """One line: what is wrong, and a way back that deletes nothing."""
    others = [s for s in _snapshots(folder) if s != snap]
    way_back = (f"the earlier snapshot {others[0].name} is complete: to go back to it, write its name into "
                f"{folder / 'CURRENT'}" if others else
                "read the documents into a new --index folder (this one is left as it is)")
    return f"{folder}: index is damaged: {snap.name}: {problem}; {way_back}"


def _passage(row: dict) -> Passage:
    passage = Passage(**row)
    passage.source = sys.intern(passage.source)  # one string per file, not one per passage
    return passage


def _interned(tokens: list[str]) -> list[str]:
    """One string object per distinct token: a big index's token lists then hold pointers, not copies."""
    return [sys.intern(t) for t in tokens]


def _safe_iterdir(folder: Path) -> list[Path]:
    try:
        return [entry for entry in folder.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except OSError:
        return []


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync_file(path)
    for path in [*(p for p in folder.rglob("*") if p.is_dir()), folder]:
        fsync_dir(path)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())

