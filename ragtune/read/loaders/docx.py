"""DOCX loader: paragraph and table text in document order, titled from the file's own metadata."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.opc.exceptions import OpcError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import LxmlError

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.encoding import read_file_bytes
from ragtune.read.loaders.base import Loader

# What python-docx raises on files that are not (valid) Word packages.
_BROKEN = (OpcError, zipfile.BadZipFile, LxmlError, KeyError, ValueError, AttributeError, EOFError)


class DocxLoader(Loader):
    """One Document per .docx: paragraphs on their own lines, table rows as cells joined by " | "."""

    extensions = (".docx",)

    def load(self, path: Path, doc_id: str) -> list[Document]:
        data = read_file_bytes(path)
        try:
            document = docx.Document(io.BytesIO(data))
            lines = list(_lines(document))
            title = _title(document)
        except _BROKEN as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise LoadError(path, f"corrupt DOCX: {reason}") from None
        text = "\n".join(line for line in lines if line)
        if not text:
            raise LoadError(path, "empty file")
        title = title or Path(path).stem
        return [Document(id=doc_id, text=text, title=title, metadata={"source": str(path)})]


def _lines(container) -> Iterator[str]:
    """Text of `container` (document body or table cell) in order; nested tables are walked too."""
    for item in container.iter_inner_content():
        if isinstance(item, Paragraph):
            yield item.text.strip()
        elif isinstance(item, Table):
            for row in item.rows:
                seen: list = []  # lxml elements compare by identity; the list keeps them alive
                cells = []
                for cell in row.cells:
                    if cell._tc in seen:  # a merged cell repeats across the columns it spans
                        continue
                    seen.append(cell._tc)
                    cells.append(" ".join(line for line in _lines(cell) if line))
                if any(cells):
                    yield " | ".join(cells)


def _title(document) -> str:
    title = (document.core_properties.title or "").strip()
    if title:
        return title
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if (style.startswith("Heading") or style == "Title") and paragraph.text.strip():
            return paragraph.text.strip()
    return ""
