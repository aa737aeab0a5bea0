"""HTML loader: visible body text only (no scripts, styles or page chrome), one line per block."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, ProcessingInstruction

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.encoding import decode_bytes
from ragtune.read.loaders.base import Loader

_DROP = ("script", "style", "nav", "header", "footer", "noscript", "template", "svg", "head", "title")
_BLOCKS = (
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "html", "li",
    "main", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
)  # fmt: skip
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
_BREAK = "\x1e"  # marks block boundaries while the tree is flattened; never survives into the text
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


class HtmlLoader(Loader):
    """One Document per HTML file, titled by <title>, else the first <h1>, else the file name."""

    extensions = (".html", ".htm")

    def load(self, path: Path, doc_id: str) -> list[Document]:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise LoadError(path, f"cannot read: {exc.strerror or exc}") from None
        declared = _META_CHARSET.search(data[:4096])
        html = decode_bytes(data, path, hint=declared.group(1).decode("ascii") if declared else None)
        soup = BeautifulSoup(html, "html.parser")
        title = _clean(soup.title.get_text()) if soup.title else ""
        if not title and (h1 := soup.find("h1")):
            title = _clean(h1.get_text())
        text = html_to_text(soup)
        title = title or Path(path).stem
        return [Document(id=doc_id, text=text, title=title, metadata={"source": str(path)})]


def html_to_text(soup: BeautifulSoup) -> str:
    """Visible text of `soup` (modified in place): blocks on their own lines, whitespace collapsed."""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for node in soup.find_all(string=lambda s: isinstance(s, _NOT_TEXT)):
        node.extract()
    for pre in soup.find_all("pre"):
        for string in pre.find_all(string=True):
            string.replace_with(string.replace("\n", _BREAK))
    for br in soup.find_all("br"):
        br.replace_with(_BREAK)
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before(_BREAK)
        tag.insert_after(_BREAK)
    lines = (_clean(line) for line in soup.get_text().split(_BREAK))
    return "\n".join(line for line in lines if line)


def _clean(text: str) -> str:
    return " ".join(text.split())
