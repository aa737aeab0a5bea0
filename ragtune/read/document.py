"""The unit every loader produces and the chunker consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

# Control characters (C0, DEL, C1) other than tab and newline: they corrupt prompts, tokenisers and terminals.
# Those that mean a line break (CR, VT, FF, the information separators, NEL) become newlines.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")


@dataclass
class Document:
    """One logical document with a stable id (a SQuAD paragraph, a BEIR doc, a file)."""

    id: str
    text: str
    title: str = ""
    metadata: dict = field(default_factory=dict)


def clean_text(text: str) -> str:
    """`text` with line breaks normalised to \\n and every other control character except tab removed."""
    return _CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))


def clean_title(title: str) -> str:
    """A title on one line: control characters removed, whitespace runs (newlines too) made one space."""
    return " ".join(clean_text(title).split())


def cleaned(doc: Document) -> Document:
    """`doc` with clean text and title: what `read` stores, whatever the loader found in the file."""
    return replace(doc, text=clean_text(doc.text), title=clean_title(doc.title))
