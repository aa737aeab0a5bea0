"""The unit every loader produces and the chunker consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Document:
    """One logical document with a stable id (a SQuAD paragraph, a BEIR doc, a file)."""

    id: str
    text: str
    title: str = ""
    metadata: dict = field(default_factory=dict)
