"""PDF loader: the text layer of every page, with clear errors for corrupt, locked or scanned files."""

from __future__ import annotations

import io
import logging
import zlib
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.encoding import read_file_bytes
from ragtune.read.loaders.base import Loader

# What pypdf raises on malformed files besides its own errors.
_BROKEN = (
    PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError, RecursionError,
    zlib.error,
)  # fmt: skip

# pypdf logs a warning for every repairable glitch; the loader reports real problems as LoadError instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class PdfLoader(Loader):
    """One Document per PDF: pages joined by blank lines, titled by the PDF metadata or the file name."""

    extensions = (".pdf",)

    def load(self, path: Path, doc_id: str) -> list[Document]:
        data = read_file_bytes(path)
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not _unlock(reader):
                raise LoadError(path, "encrypted PDF")
            pages = [(page.extract_text() or "").strip() for page in reader.pages]
            title = _title(reader)
        except (FileNotDecryptedError, DependencyError):
            raise LoadError(path, "encrypted PDF") from None
        except _BROKEN as exc:
            raise LoadError(path, f"corrupt PDF: {_reason(exc)}") from None
        text = "\n\n".join(page for page in pages if page)
        if not text:
            raise LoadError(path, "no extractable text (scanned?)")
        title = title or Path(path).stem
        return [Document(id=doc_id, text=text, title=title, metadata={"source": str(path)})]


def _unlock(reader: PdfReader) -> bool:
    """Many PDFs are encrypted only against editing, with an empty password for reading."""
    try:
        return bool(reader.decrypt(""))
    except (DependencyError, NotImplementedError, PyPdfError):
        return False


def _title(reader: PdfReader) -> str:
    try:
        title = reader.metadata.title if reader.metadata else None
    except _BROKEN:
        return ""
    return " ".join(str(title).split()) if title else ""


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
