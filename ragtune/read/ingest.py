"""Walk the paths a user gives, load each supported file, and collect one-line problems."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.loaders import LOADERS, loader_for

#: in a BEIR folder only the corpus is text to index (queries, qrels, notes are not)
BEIR_CORPUS = "corpus.jsonl"


@dataclass
class SourceFile:
    """One input file: its identity for incremental updates and its documents."""

    key: str  # absolute path: what re-reads and deletes match on
    path: Path
    doc_id: str  # id for formats without their own (relative to the argument's parent)
    sha256: str
    documents: list[Document] = field(default_factory=list)


def source_key(path: str | Path) -> str:
    return str(Path(path).expanduser().absolute().resolve(strict=False))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_beir_folder(folder: Path) -> bool:
    return (folder / "corpus.jsonl").is_file() and (folder / "queries.jsonl").is_file()


def discover(paths: list[str | Path]) -> tuple[list[tuple[Path, str]], list[LoadError]]:
    """Expand arguments into (file, fallback doc id) pairs; unsupported or missing paths become errors."""
    found: list[tuple[Path, str]] = []
    errors: list[LoadError] = []
    for arg in paths:
        root = Path(arg).expanduser()
        if not root.exists():
            errors.append(LoadError(arg, "no such file or directory"))
        elif root.is_file():
            if loader_for(root) is None:
                errors.append(LoadError(root, f"unsupported file type {root.suffix or '(none)'!r}"))
            else:
                found.append((root, root.name))
        else:
            for file in _walk(root):
                if loader_for(file) is None:
                    errors.append(LoadError(file, f"unsupported file type {file.suffix or '(none)'!r}"))
                else:
                    found.append((file, str(file.relative_to(root.parent))))
    return found, errors


def _walk(folder: Path) -> Iterator[Path]:
    """Files under a folder in a stable order, skipping hidden entries and a BEIR folder's non-corpus files."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "qrels")
        here = Path(dirpath)
        beir = _is_beir_folder(here)
        for name in sorted(filenames):
            if name.startswith(".") or (beir and name != BEIR_CORPUS):
                continue
            yield here / name


def load_source(path: Path, doc_id: str, known_sha: str | None = None) -> SourceFile:
    """Hash a file and, unless the hash matches `known_sha`, parse it; raises LoadError."""
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror or exc}") from exc
    source = SourceFile(key=source_key(path), path=path, doc_id=doc_id, sha256=sha)
    if sha == known_sha:
        return source
    loader = loader_for(path)
    assert loader is not None, "discover() only yields supported files"
    source.documents = loader.load(path, doc_id)
    if not source.documents:
        raise LoadError(path, "no text found")
    return source


__all__ = ["LOADERS", "SourceFile", "discover", "load_source", "source_key"]
