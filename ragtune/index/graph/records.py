"""What the graph stores, whatever stores it: a triple with its provenance, a passage's record, and where a
triple's names occur in its passage. Shared by every graph backend (base.py) and by the code that fills the graph.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ragtune.index.passage import Passage
from ragtune.read.triples import Triple

#: characters of a passage kept for `graph show` and the web page (the index holds the rest)
SNIPPET_CHARS = 160

Span = tuple[int, int]


@dataclass(frozen=True)
class StoredTriple:
    """A triple as the graph holds it: the extracted names, their entity keys, and where it was found."""

    subject: str
    predicate: str
    object: str
    subject_type: str
    object_type: str
    subject_key: str
    object_key: str
    passage_id: str
    chunk: int
    title: str
    subject_span: Span | None
    object_span: Span | None

    @property
    def span(self) -> Span | None:
        """The passage characters covering both mentions (one of them when only one was found verbatim)."""
        spans = [s for s in (self.subject_span, self.object_span) if s is not None]
        return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None

    @property
    def triple(self) -> Triple:
        return Triple(self.subject, self.predicate, self.object, self.subject_type, self.object_type)

    def to_json(self) -> dict:
        row = asdict(self)
        row["span"] = self.span
        return row


@dataclass(frozen=True)
class GraphPassage:
    """What the graph records of an index passage: enough to tell whether it changed, and to cite it."""

    key: str
    passage_id: str
    chunk: int
    title: str
    source: str
    sha256: str
    snippet: str

    @classmethod
    def of(cls, passage: Passage) -> GraphPassage:
        digest = hashlib.sha256(f"{passage.title}\n{passage.text}".encode()).hexdigest()
        return cls(passage_key(passage), passage.id, passage.chunk, passage.title, passage.source, digest,
                   passage.text[:SNIPPET_CHARS])


def passage_key(passage: Passage) -> str:
    """A passage's identity across index states: its file, document id and chunk number (rows change)."""
    return json.dumps([passage.source, passage.id, passage.chunk], ensure_ascii=False)


def find_span(text: str, name: str, near: int | None = None) -> Span | None:
    """Where `name` occurs in `text` (exactly, else ignoring case); of several, the one nearest `near`."""
    if not name:
        return None
    for haystack, needle in ((text, name), (text.lower(), name.lower())):
        if len(haystack) != len(text) or len(needle) != len(name):
            continue  # lower() changed lengths: its offsets would not be the text's
        starts, at = [], haystack.find(needle)
        while at >= 0:
            starts.append(at)
            at = haystack.find(needle, at + 1)
        if starts:
            start = starts[0] if near is None else min(starts, key=lambda s: abs(s - near))
            return start, start + len(name)
    return None


def locate(triple: Triple, text: str) -> tuple[Span | None, Span | None]:
    """Character spans of a triple's subject and object in its passage (the object's nearest the subject)."""
    subject = find_span(text, triple.subject)
    return subject, find_span(text, triple.object, near=subject[0] if subject else None)
