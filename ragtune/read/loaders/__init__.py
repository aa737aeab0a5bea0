"""Loader factory: the file's extension picks the loader."""

from __future__ import annotations

from pathlib import Path

from ragtune.config import ReadConfig
from ragtune.read.loaders.base import Loader
from ragtune.read.loaders.docx import DocxLoader
from ragtune.read.loaders.html import HtmlLoader
from ragtune.read.loaders.pdf import PdfLoader
from ragtune.read.loaders.structured import JsonlLoader, SquadLoader
from ragtune.read.loaders.text import MarkdownLoader, TextLoader

LOADERS: dict[str, type[Loader]] = {
    ext: cls
    for cls in (TextLoader, MarkdownLoader, HtmlLoader, PdfLoader, DocxLoader, JsonlLoader, SquadLoader)
    for ext in cls.extensions
}


def loader_for(path: Path, limits: ReadConfig | None = None) -> Loader | None:
    """The loader for a file, bound to the `read:` limits, or None when its extension is not supported."""
    cls = LOADERS.get(path.suffix.lower())
    return cls(limits) if cls else None


__all__ = ["LOADERS", "Loader", "loader_for"]
