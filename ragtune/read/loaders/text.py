"""Loaders for plain text and Markdown files: one Document per file, markup reduced to readable text."""

from __future__ import annotations

import re
from pathlib import Path

from ragtune.read.document import Document
from ragtune.read.encoding import read_text_file
from ragtune.read.loaders.base import Loader

_FRONT_MATTER = re.compile(r"\A(?:---|\+\+\+)[ \t]*\n(.*?\n)?(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title[ \t]*[:=](.*)$", re.MULTILINE)
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*))?$")  # on the right-stripped line; closing #s: _heading_text
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$")
# Every pattern runs in linear time on any line: the text between delimiters may not contain the opening
# delimiter, so a failed match stops at the next one instead of scanning the rest of a long line again.
_LINK_TARGET = r"\((?:[^()]|\([^()]*\))*\)"  # (url), one level of parentheses inside: (wiki/A_(b))
_INLINE = (
    (re.compile(r"!\[([^\[\]]*)\]" + _LINK_TARGET), r"\1"),  # images -> alt text
    (re.compile(r"!?\[([^\[\]]+)\](?:" + _LINK_TARGET + r"|\[[^\[\]]*\])"), r"\1"),  # links -> link text
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # inline HTML tags
    (re.compile(r"`+([^`]+?)`+"), r"\1"),
    (re.compile(r"(\*\*|__|~~)(?=\S)((?:(?!\1).)+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_]+?)(?<=\S)_(?![\w_])"), r"\1"),
)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


class TextLoader(Loader):
    """Plain text: the whole file is the document, titled by the file name."""

    extensions = (".txt", ".text")

    def load(self, path: Path, doc_id: str) -> list[Document]:
        text = _normalize_newlines(read_text_file(path)).strip()
        return [Document(id=doc_id, text=text, title=Path(path).stem, metadata={"source": str(path)})]


class MarkdownLoader(Loader):
    """Markdown: front matter dropped, headings/links/images/emphasis reduced to their text."""

    extensions = (".md", ".markdown")

    def load(self, path: Path, doc_id: str) -> list[Document]:
        raw = _normalize_newlines(read_text_file(path))
        front_title = ""
        match = _FRONT_MATTER.match(raw)
        if match:
            raw = raw[match.end() :]
            title_match = _FRONT_TITLE.search(match.group(1) or "")
            front_title = title_match.group(1).strip().strip("'\"") if title_match else ""
        text, heading = markdown_to_text(raw)
        title = heading or front_title or Path(path).stem
        return [Document(id=doc_id, text=text, title=title, metadata={"source": str(path)})]


def markdown_to_text(markdown: str) -> tuple[str, str]:
    """Return (readable text, first level-1 heading or "") for a Markdown body without front matter."""
    out: list[str] = []
    title = ""
    fence = ""
    for line in markdown.split("\n"):
        fence_match = _FENCE.match(line)
        if fence:  # inside a code block: keep verbatim until the closing fence
            closing = fence_match.group(1) if fence_match else ""
            if closing[:1] == fence[0] and len(closing) >= len(fence):
                fence = ""
            else:
                out.append(line)
            continue
        if fence_match:
            fence = fence_match.group(1)
            continue
        atx = _ATX.match(line.rstrip())
        if atx:
            heading = _inline(_heading_text(atx.group(2) or ""))
            if len(atx.group(1)) == 1 and not title:
                title = heading
            out.append(heading)
            continue
        setext = _SETEXT.match(line)
        if setext and out and out[-1].strip():  # underline of the previous line's heading
            if setext.group(1)[0] == "=" and not title:
                title = out[-1].strip()
            continue
        if _RULE.match(line) or _REF_DEF.match(line):
            continue
        out.append(_inline(re.sub(r"^\s{0,3}(?:>\s?)+", "", line)).rstrip())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
    return text, title


def _heading_text(text: str) -> str:
    """An ATX heading's text without its optional closing run of #s (which must follow a space)."""
    unclosed = text.rstrip("#")
    return unclosed.rstrip() if unclosed != text and unclosed[-1:].isspace() else text


def _inline(line: str) -> str:
    line = _strip_comments(line)
    for pattern, replacement in _INLINE:
        line = pattern.sub(replacement, line)
    return line


def _strip_comments(line: str) -> str:
    """`line` without <!-- ... --> comments (by search, not a regex: an unclosed one ends the work)."""
    out, start = [], 0
    while (opening := line.find("<!--", start)) != -1:
        closing = line.find("-->", opening + 4)
        if closing == -1:
            break
        out.append(line[start:opening])
        start = closing + 3
    out.append(line[start:])
    return "".join(out)
