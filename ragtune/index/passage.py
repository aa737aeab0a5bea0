"""A stored passage: what every index backend returns and what `read` writes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Passage:
    """A stored chunk. `id` is its document's stable id; `chunk` numbers chunks within it (slots: an index
    holds one per passage)."""

    id: str
    chunk: int
    title: str
    text: str
    source: str

    @property
    def embedding_text(self) -> str:
        """Title plus text: titles carry the topic that a chunk's own sentences often omit."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    def to_json(self) -> dict:
        return {"id": self.id, "chunk": self.chunk, "title": self.title, "text": self.text, "source": self.source}
