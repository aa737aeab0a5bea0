"""Walk the paths a user gives, load each supported file, and collect one-line problems.

Whatever a file holds, loading it ends in its documents or in one LoadError for it: `load_source`
is the one place that turns a loader's unexpected exception into that file's error.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.config import ChunkingConfig, ReadConfig
from ragtune.errors import LoadError
from ragtune.files import file_sha256
from ragtune.read.chunking import Chunk, chunk_document
from ragtune.read.document import Document, cleaned
from ragtune.read.limits import check_file_size
from ragtune.read.loaders import LOADERS, loader_for

#: in a BEIR folder only the corpus is text to index (queries, qrels, notes are not)
BEIR_CORPUS = "corpus.jsonl"


@dataclass
class SourceFile:
    """One input file: its identity for incremental updates, its documents and their chunks (cut once, where
    the passages-per-file limit is checked)."""

    key: str  # absolute path: what re-reads and deletes match on
    path: Path
    doc_id: str  # id for formats without their own (relative to the argument's parent)
    sha256: str
    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)


def source_key(path: str | Path) -> str:
    return str(Path(path).expanduser().absolute().resolve(strict=False))


def _is_beir_folder(folder: Path) -> bool:
    return (folder / "corpus.jsonl").is_file() and (folder / "queries.jsonl").is_file()


def discover(paths: list[str | Path], is_index: Callable[[Path], bool] = lambda folder: False
             ) -> tuple[list[tuple[Path, str]], list[LoadError]]:
    """Expand arguments into (file, fallback doc id) pairs, each file once; other paths become errors.

    Folders are walked without following links into other folders, without entering the folders
    `is_index` recognises (an index kept inside the folder it indexes is not read back into itself; the
    index package passes its own test, so reading documents needs nothing from it), and only regular files
    are taken (a FIFO or a link to /dev/zero would block or never end).
    """
    found: list[tuple[Path, str]] = []
    errors: list[LoadError] = []
    seen: set[str] = set()

    def take(file: Path, doc_id: str) -> None:
        try:
            mode = file.stat().st_mode
            key = source_key(file)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on older Pythons
            errors.append(LoadError(file, _os_problem(exc)))
            return
        if key in seen:
            return
        seen.add(key)
        if not stat.S_ISREG(mode):
            errors.append(LoadError(file, "not a regular file"))
        elif loader_for(file) is None:
            errors.append(LoadError(file, f"unsupported file type {file.suffix or '(none)'!r}"))
        else:
            found.append((file, doc_id))

    for arg in paths:
        root = Path(arg).expanduser()
        try:
            is_folder = stat.S_ISDIR(root.stat().st_mode)
        except OSError as exc:
            errors.append(LoadError(arg, _os_problem(exc)))
            continue
        if not is_folder:
            take(root, root.name)
        elif is_index(root):
            errors.append(LoadError(root, "is a ragtune index folder, not documents"))
        else:
            for file in _walk(root, errors, is_index):
                take(file, str(file.relative_to(root.parent)))
    return found, [one_line(error) for error in errors]


def _os_problem(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOENT:
        return "no such file or directory"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return f"cannot read: {exc}"


def _walk(folder: Path, errors: list[LoadError], is_index: Callable[[Path], bool]) -> Iterator[Path]:
    """Files under a folder in a stable order, skipping hidden entries, index folders and a BEIR folder's
    non-corpus files; links to folders are not followed (no loops), unreadable folders are errors."""

    def unreadable(exc: OSError) -> None:
        errors.append(LoadError(exc.filename or folder, _os_problem(exc)))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "qrels"
                             and not is_index(here / d))
        beir = _is_beir_folder(here)
        for name in sorted(filenames):
            if name.startswith(".") or (beir and name != BEIR_CORPUS):
                continue
            yield here / name


def load_source(path: Path, doc_id: str, known_sha: str | None = None, limits: ReadConfig | None = None,
                chunking: ChunkingConfig | None = None) -> SourceFile:
    """Hash a file and, unless the hash matches `known_sha`, parse it; raises LoadError, nothing else.

    `limits` bound what the file may cost; `chunking` is how its documents will be cut, to hold it to
    `limits.max_passages_per_file`.
    """
    try:
        return _load_source(path, doc_id, known_sha, limits or ReadConfig(), chunking or ChunkingConfig())
    except LoadError as exc:
        raise one_line(exc) from exc.__cause__


def one_line(error: LoadError) -> LoadError:
    """`error` with control characters in its path or problem escaped (as Python writes them): a file
    whose name holds a newline is still one line of the report."""
    if error.path.isprintable() and error.problem.isprintable():
        return error
    return LoadError(_printable(error.path), _printable(error.problem))


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _load_source(path: Path, doc_id: str, known_sha: str | None, limits: ReadConfig,
                 chunking: ChunkingConfig) -> SourceFile:
    try:
        sha = file_sha256(path, lambda size: check_file_size(size, path, limits))
    except OSError as exc:
        raise LoadError(path, _os_problem(exc)) from exc
    source = SourceFile(key=source_key(path), path=path, doc_id=doc_id, sha256=sha)
    if sha == known_sha:
        return source
    loader = loader_for(path, limits)
    if loader is None:
        raise LoadError(path, f"unsupported file type {path.suffix or '(none)'!r}")
    try:
        documents = loader.load(path, doc_id)
    except LoadError:
        raise
    except Exception as exc:  # a parser's bug or a file no one foresaw: that file's error, not the batch's
        raise LoadError(path, _unexpected(exc, path)) from exc
    source.documents = [doc for doc in map(cleaned, documents) if doc.text.strip()]
    if not source.documents:
        raise LoadError(path, "no text found")
    source.chunks = _chunks(source, limits, chunking)
    return source


def _unexpected(exc: Exception, path: Path) -> str:
    kind = path.suffix.lstrip(".").upper() or "file"
    if isinstance(exc, RecursionError):
        return f"cannot read {kind}: nested too deeply"
    if isinstance(exc, MemoryError):
        return f"cannot read {kind}: out of memory"
    reason = " ".join(str(exc).split())[:200]
    return f"cannot read {kind}: {type(exc).__name__}" + (f": {reason}" if reason else "")


def _chunks(source: SourceFile, limits: ReadConfig, chunking: ChunkingConfig) -> list[Chunk]:
    """The file's chunks in document order; LoadError past `limits.max_passages_per_file`."""
    limit = limits.max_passages_per_file
    chunks: list[Chunk] = []
    if len(source.documents) <= limit:
        for doc in source.documents:
            chunks += chunk_document(doc, chunking.chunk_size, chunking.chunk_overlap)
            if len(chunks) > limit:
                break
    if len(source.documents) > limit or len(chunks) > limit:
        raise LoadError(source.path, f"more than {limit} passages (read.max_passages_per_file)")
    return chunks


__all__ = ["LOADERS", "SourceFile", "discover", "load_source", "source_key"]
