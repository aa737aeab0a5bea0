"""HTML loader: visible body text only (no scripts, styles or page chrome), one line per block.

Deep nesting is refused while the page is parsed (read.max_depth), and the text is gathered in one
iterative pass: a page of 100,000 nested <div>s costs a moment, not minutes.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, CData, NavigableString, Tag

from ragtune.read.document import Document
from ragtune.read.encoding import decode_bytes, read_file_bytes
from ragtune.read.limits import depth_error
from ragtune.read.loaders.base import Loader

_DROP = ("script", "style", "nav", "header", "footer", "noscript", "template", "svg", "head", "title")
_BLOCKS = (
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "form", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "html", "li",
    "main", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
)  # fmt: skip
_OPTIONAL_END = frozenset((
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
    "caption", "rb", "rt", "rtc", "rp", "html", "head", "body",
))  # fmt: skip
_TEXT = (NavigableString, CData)  # exact types: comments, doctypes, script bodies and the like are not text
_BREAK = "\x1e"  # marks block boundaries while the tree is flattened; never survives into the text
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


class HtmlLoader(Loader):
    """One Document per HTML file, titled by <title>, else the first <h1>, else the file name."""

    extensions = (".html", ".htm")

    def load(self, path: Path, doc_id: str) -> list[Document]:
        data = read_file_bytes(path)
        declared = _META_CHARSET.search(data[:4096])
        html = decode_bytes(data, path, hint=declared.group(1).decode("ascii") if declared else None)
        try:
            soup = _DepthLimitedSoup(html, self.limits.max_depth)
        except _TooDeep:
            raise depth_error(path, self.limits.max_depth) from None
        title = _clean(soup.title.get_text()) if soup.title else ""
        if not title and (h1 := soup.find("h1")):
            title = _clean(h1.get_text())
        text = html_to_text(soup)
        title = title or Path(path).stem
        return [Document(id=doc_id, text=text, title=title, metadata={"source": str(path)})]


class _TooDeep(Exception):
    pass


class _DepthLimitedSoup(BeautifulSoup):
    """The lxml-parsed tree (linear, where html.parser is quadratic on runs of unclosed tags), refused as soon
    as elements nest deeper than `max_depth` (before it is built).

    Elements whose end tag HTML lets authors omit (<p>, <li>, <td>...) do not count: a parser may nest
    every unclosed one inside the last, so an old page of 500 bare <p>s would otherwise look 500 deep.
    """

    def __init__(self, markup: str, max_depth: int):
        self._max_depth = max_depth
        self._depth = 0
        super().__init__(markup, "lxml")

    def reset(self) -> None:
        self._depth = 0
        super().reset()

    def pushTag(self, tag: Tag) -> None:  # noqa: N802 (BeautifulSoup's names)
        super().pushTag(tag)
        if tag.name not in _OPTIONAL_END:
            self._depth += 1
            if self._depth > self._max_depth + 1:  # the soup object itself is the bottom of the stack
                raise _TooDeep

    def popTag(self) -> Tag | None:  # noqa: N802
        tag = super().popTag()
        if tag is not None and tag.name not in _OPTIONAL_END:
            self._depth -= 1
        return tag


def html_to_text(soup: BeautifulSoup) -> str:
    """Visible text of `soup`: blocks on their own lines, whitespace collapsed (one pass, no recursion)."""
    parts: list[str] = []
    in_pre = 0
    stack: list[tuple[Tag, int]] = [(soup, 0)]  # (tag, index of its next child)
    while stack:
        tag, index = stack[-1]
        if index == len(tag.contents):  # leaving the tag
            stack.pop()
            if tag.name in _BLOCKS:
                parts.append(_BREAK)
            in_pre -= tag.name == "pre"
            continue
        stack[-1] = (tag, index + 1)
        node = tag.contents[index]
        if isinstance(node, Tag):
            if node.name in _DROP:
                continue
            if node.name == "br":
                parts.append(_BREAK)
                continue
            if node.name in _BLOCKS:
                parts.append(_BREAK)
            in_pre += node.name == "pre"
            stack.append((node, 0))
        elif type(node) in _TEXT:
            parts.append(node.replace("\n", _BREAK) if in_pre else node)
    lines = (_clean(line) for line in "".join(parts).split(_BREAK))
    return "\n".join(line for line in lines if line)


def _clean(text: str) -> str:
    return " ".join(text.split())
