"""Sentence-aware chunking for Chinese and English with a token budget and overlap."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ragtune.read.document import Document
from ragtune.text import count_units

# End of a sentence: Chinese full-width marks (closing quotes kept with the sentence),
# English marks followed by whitespace, or a line break.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;…])[”’」』\"')）]*|(?<=[.])(?=\s)|\n+")
#: a passage holds at most this many characters per unit of its budget: a "word" of a million letters
#: (a one-line junk file) counts as one unit, and the embedder's cost grows with characters
MAX_CHARS_PER_UNIT = 16
_ABBREVIATION = re.compile(r"(?:^|\s)(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|vs|etc|e\.g|i\.e|No|Fig|al|[A-Z])\.$")
_ABBREVIATION_SPAN = 8  # no match of _ABBREVIATION is longer (" Prof." is 6)


@dataclass
class Chunk:
    """A passage: the retrievable unit. `doc_id` is the stable id gold labels refer to."""

    doc_id: str
    position: int
    text: str
    title: str = ""
    metadata: dict = field(default_factory=dict)


def split_sentences(text: str) -> list[str]:
    """Split into sentences, keeping their punctuation; never loses non-space characters."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end > start:
            pieces.append(text[start:end])
            start = end
    pieces.append(text[start:])
    # A piece after an abbreviation continues the sentence. Sentences are kept as lists of pieces and only
    # the end of the last piece is searched: "A. " a million times is one sentence, built in linear time.
    sentences: list[list[str]] = []
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if sentences and _ends_with_abbreviation(sentences[-1]):
            sentences[-1].append(piece)
        else:
            sentences.append([piece])
    return [" ".join(parts) for parts in sentences]


def _ends_with_abbreviation(parts: list[str]) -> bool:
    """Whether `" ".join(parts)` ends with an abbreviation, looking only at its last few characters."""
    tail = parts[-1] if len(parts) == 1 else " " + parts[-1]  # "^" may only match where the sentence starts
    return _ABBREVIATION.search(tail, max(0, len(tail) - _ABBREVIATION_SPAN)) is not None


def _hard_split(sentence: str, size: int) -> list[str]:
    """Cut one over-long sentence into pieces of at most `size` units."""
    pieces, current, units = [], [], 0
    for token in re.findall(r"\s*\S", sentence):
        current.append(token)
        units += 1
        if units >= size:
            pieces.append("".join(current).strip())
            current, units = [], 0
    if current:
        pieces.append("".join(current).strip())
    return [p for p in pieces if p]


def _join(sentences: list[str]) -> str:
    """Join sentences with a space only between non-CJK boundaries."""
    out = ""
    for s in sentences:
        if out and (out[-1].isascii() or s[0].isascii()):
            out += " "
        out += s
    return out


def _cap_length(chunks: list[str], max_chars: int) -> list[str]:
    """Cut chunks longer than `max_chars` characters, at the last space of each window where there is one."""
    capped: list[str] = []
    for chunk in chunks:
        start = 0
        while len(chunk) - start > max_chars:
            cut = chunk.rfind(" ", start + max_chars // 2, start + max_chars + 1)
            cut = cut if cut > start else start + max_chars
            capped.append(chunk[start:cut].strip())
            start = cut
        if chunk[start:].strip():
            capped.append(chunk[start:].strip())
    return [piece for piece in capped if piece]


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Greedy sentence packing up to `size` units (and `size` × MAX_CHARS_PER_UNIT characters); the next
    chunk repeats up to `overlap` units."""
    return _cap_length(_pack(text, size, overlap), size * MAX_CHARS_PER_UNIT)


def _pack(text: str, size: int, overlap: int) -> list[str]:
    text = text.strip()
    if not text:
        return []
    if count_units(text) <= size:
        return [text]
    sentences: list[str] = []
    for sentence in split_sentences(text):
        sentences.extend(_hard_split(sentence, size) if count_units(sentence) > size else [sentence])
    chunks: list[str] = []
    window: list[tuple[str, int]] = []
    units = 0
    for sentence in sentences:
        n = count_units(sentence)
        if window and units + n > size:
            chunks.append(_join([s for s, _ in window]))
            kept: list[tuple[str, int]] = []
            kept_units = 0
            for s, m in reversed(window):
                if kept_units + m > overlap or kept_units + m + n > size:
                    break
                kept.insert(0, (s, m))
                kept_units += m
            window, units = kept, kept_units
        window.append((sentence, n))
        units += n
    if window:
        chunks.append(_join([s for s, _ in window]))
    return chunks


def chunk_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    """All chunks of one document; a short document stays one chunk."""
    return [
        Chunk(doc_id=doc.id, position=i, text=piece, title=doc.title, metadata=doc.metadata)
        for i, piece in enumerate(chunk_text(doc.text, size, overlap))
    ]
