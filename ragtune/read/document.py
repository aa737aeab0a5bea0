"""The unit every loader produces and the chunker consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ragtune.text import printable

# Control characters that mean a line break (CR, VT, FF, the information separators, NEL) become newlines;
# the others, which corrupt prompts, tokenisers and terminals, go (ragtune.text.printable).
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85]")


@dataclass
class Document:
    """One logical document with a stable id (a SQuAD paragraph, a BEIR doc, a file)."""

    id: str
    text: str
    title: str = ""
    metadata: dict = field(default_factory=dict)


def clean_text(text: str) -> str:
    """`text` with line breaks normalised to \\n, every other control character except tab removed and lone
    surrogates (a file name that is not UTF-8) replaced."""
    return printable(_LINE_BREAKS.sub("\n", text))


def clean_title(title: str) -> str:
    """A title on one line: control characters removed, whitespace runs (newlines too) made one space."""
    return " ".join(clean_text(title).split())


def cleaned(doc: Document) -> Document:
    """`doc` with clean text and title: what `read` stores, whatever the loader found in the file."""
    return replace(doc, id=printable(doc.id), text=clean_text(doc.text), title=clean_title(doc.title))
