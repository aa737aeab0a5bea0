"""What a summary is made from: a file (read's loaders), or one indexed document (its passages, in order)."""

from __future__ import annotations

from pathlib import Path

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.backends import IndexBackend
from ragtune.read.chunking import split_sentences
from ragtune.read.ingest import discover, load_source


def file_text(path: str | Path, config: Config) -> str:
    """The text of one file as `read` would index it (every loader, encoding and limit); its documents, if it
    holds several (a jsonl corpus), one after another."""
    found, errors = discover([path])
    if errors:
        raise errors[0]
    if len(found) != 1:
        raise RagtuneError(f"{path}: summarize takes one file, not a folder of {len(found)}")
    file, doc_id = found[0]
    source = load_source(file, doc_id, limits=config.read, chunking=config.chunking)
    return "\n\n".join(doc.text for doc in source.documents)


def indexed_text(store: IndexBackend, doc_id: str) -> str:
    """An indexed document's text from its passages in chunk order, the sentences chunking repeats at the start
    of each passage (chunking.chunk_overlap) left out."""
    chunks = sorted((p for p in store.passages if p.id == doc_id), key=lambda p: p.chunk)
    if not chunks:
        raise RagtuneError(f"{store.folder}: no document {doc_id!r} in the index")
    text = chunks[0].text
    for chunk in chunks[1:]:
        rest = _without_overlap(text, chunk.text)
        if rest:
            text += (" " if text[-1].isascii() or rest[0].isascii() else "") + rest
    return text


def _without_overlap(before: str, text: str) -> str:
    """`text` without its longest run of leading sentences that `before` ends with."""
    cut, end = 0, 0
    for sentence in split_sentences(text)[:-1]:
        found = text.find(sentence, end)
        if found < 0:
            break
        end = found + len(sentence)
        if before.endswith(text[:end]):
            cut = end
    return text[cut:].strip()
