"""Loaders for files that carry their own document ids: SQuAD json, jsonl, BEIR corpus.jsonl."""

from __future__ import annotations

from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.encoding import iter_jsonl
from ragtune.read.loaders.base import Loader
from ragtune.read.squad import load_squad_documents


class SquadLoader(Loader):
    """Each paragraph becomes a document whose id gold labels can refer to."""

    extensions = (".json",)

    def load(self, path: Path, doc_id: str) -> list[Document]:
        return load_squad_documents(path)


class JsonlLoader(Loader):
    """One `{"id"|"_id", "title", "text"}` object per line (BEIR's corpus.jsonl is the same shape)."""

    extensions = (".jsonl",)

    def load(self, path: Path, doc_id: str) -> list[Document]:
        docs = []
        for number, record in iter_jsonl(path):
            text = record.get("text", record.get("contents"))
            rid = record.get("id", record.get("_id"))
            if not isinstance(text, str) or rid in (None, ""):
                raise LoadError(path, f'line {number}: needs "id" (or "_id") and "text"')
            if text.strip():
                title = str(record.get("title") or "")
                docs.append(Document(id=str(rid), text=text, title=title))
        return docs
