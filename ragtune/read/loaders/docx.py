"""DOCX loader: paragraph and table text in document order, titled from the file's own metadata.

The package is checked against the zip limits before it is opened, and the body is walked once with
each paragraph's style looked up in a table built once: python-docx's own `paragraph.style` searches
every style per call, which made a DOCX of millions of empty paragraphs take hours.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.exceptions import OpcError
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl, CT_Tc
from docx.oxml.text.paragraph import CT_P
from lxml.etree import LxmlError

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.encoding import read_file_bytes
from ragtune.read.limits import check_zip
from ragtune.read.loaders.base import Loader

# What python-docx raises on files that are not (valid) Word packages.
_BROKEN = (OpcError, zipfile.BadZipFile, LxmlError, KeyError, ValueError, AttributeError, EOFError)
# An OLE compound file: what Word saves a password-protected document (or a pre-2007 .doc) as.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Children of <w:p> that carry its text (python-docx's Paragraph.text reads exactly these).
_TEXT_CHILDREN = frozenset((qn("w:r"), qn("w:hyperlink")))


class DocxLoader(Loader):
    """One Document per .docx: paragraphs on their own lines, table rows as cells joined by " | "."""

    extensions = (".docx",)

    def load(self, path: Path, doc_id: str) -> list[Document]:
        data = read_file_bytes(path)
        if data.startswith(_OLE):
            raise LoadError(path, "password-protected DOCX or old binary Word file, not a DOCX package")
        if any(member.flag_bits & 0x1 for member in check_zip(data, path, self.limits)):
            raise LoadError(path, "encrypted DOCX")
        try:
            document = docx.Document(io.BytesIO(data))
            title = (document.core_properties.title or "").strip()
            lines, heading = _body(document)
        except _BROKEN as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise LoadError(path, f"corrupt DOCX: {reason}") from None
        text = "\n".join(line for line in lines if line)
        if not text:
            raise LoadError(path, "empty file")
        title = title or heading or Path(path).stem
        return [Document(id=doc_id, text=text, title=title, metadata={"source": str(path)})]


def _body(document) -> tuple[list[str], str]:
    """The body's lines, and the text of its first Heading/Title-styled top-level paragraph."""
    styles = {style.style_id: style.name or "" for style in document.styles
              if style.type == WD_STYLE_TYPE.PARAGRAPH}
    default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = (default.name or "") if default is not None else ""
    lines: list[str] = []
    heading = ""
    for element in document.element.body.inner_content_elements:
        if isinstance(element, CT_P):
            line = _paragraph_text(element)
            lines.append(line)
            if line and not heading:
                style = styles.get(element.style, default_name) if element.style else default_name
                if style.startswith("Heading") or style == "Title":
                    heading = line
        else:
            lines.extend(_table_lines(element))
    return lines, heading


def _paragraph_text(p: CT_P) -> str:
    """Stripped text of a paragraph; an empty one (the common case in padded files) costs no XPath."""
    if not any(child.tag in _TEXT_CHILDREN for child in p):
        return ""
    return p.text.strip()


def _cell_lines(tc: CT_Tc) -> Iterator[str]:
    """Text of a table cell in order; nested tables are walked too."""
    for element in tc.inner_content_elements:
        if isinstance(element, CT_P):
            yield _paragraph_text(element)
        elif isinstance(element, CT_Tbl):
            yield from _table_lines(element)


def _table_lines(table: CT_Tbl) -> Iterator[str]:
    """One line per row, its cells' text joined by " | ".

    A cell merged across columns is one <w:tc> and appears once; a cell merged down rows repeats its
    text in each row it spans, tracked by grid column as the rows go by (python-docx looks each one up
    from the top again, which is quadratic in the rows).
    """
    above: dict[int, str] = {}  # grid column -> text of the cell last started there
    for tr in table.tr_lst:
        column = tr.grid_before
        cells = []
        for tc in tr.tc_lst:
            if tc.vMerge == "continue":
                text = above.get(column, "")
            else:
                text = above[column] = " ".join(line for line in _cell_lines(tc) if line)
            cells.append(text)
            column += tc.grid_span
        if any(cells):
            yield " | ".join(cells)
