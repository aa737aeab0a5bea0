"""Loaders for files that carry their own document ids: SQuAD json, jsonl, BEIR corpus.jsonl, and the multi-hop
sets (HotpotQA, MuSiQue and their corpora, recognised by content: read/multihop.py) in either."""

from __future__ import annotations

from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.encoding import iter_jsonl
from ragtune.read.loaders.base import Loader
from ragtune.read.multihop import multihop_kind, parse_multihop
from ragtune.read.squad import json_type, load_squad_documents, read_json


class SquadLoader(Loader):
    """Each paragraph becomes a document whose id gold labels can refer to (a multi-hop set's: its title)."""

    extensions = (".json",)

    def load(self, path: Path, doc_id: str) -> list[Document]:
        raw = read_json(path, self.limits.max_depth)
        kind = multihop_kind(raw)
        if kind is not None:
            return parse_multihop(path, raw, kind).documents
        return load_squad_documents(path, raw=raw)


class JsonlLoader(Loader):
    """One `{"id"|"_id", "title", "text"}` object per line (BEIR's corpus.jsonl is the same shape)."""

    extensions = (".jsonl",)

    def load(self, path: Path, doc_id: str) -> list[Document]:
        lines = list(iter_jsonl(path, max_depth=self.limits.max_depth))
        records = [record for _, record in lines]
        kind = multihop_kind(records)
        if kind is not None:
            return parse_multihop(path, records, kind).documents
        docs = []
        for number, record in lines:
            text = record.get("text", record.get("contents"))
            rid = record.get("id", record.get("_id"))
            title = record.get("title")
            if rid in (None, "") or text is None:
                raise LoadError(path, f'line {number}: needs "id" (or "_id") and "text"')
            if not isinstance(rid, (str, int)) or isinstance(rid, bool):
                raise LoadError(path, f'line {number}: "id" must be a string or number, not {json_type(rid)}')
            if not isinstance(text, str):
                raise LoadError(path, f'line {number}: "text" must be a string, not {json_type(text)}')
            if title is not None and (not isinstance(title, (str, int, float)) or isinstance(title, bool)):
                raise LoadError(path, f'line {number}: "title" must be a string, not {json_type(title)}')
            if text.strip():
                docs.append(Document(id=str(rid), text=text, title=str(title or "")))
        return docs
