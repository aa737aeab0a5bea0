"""BM25 on tantivy: our own tokens (jieba / stemmed words, index/tokenize.py) joined by spaces, cut again by
tantivy's whitespace tokenizer, so tantivy scores exactly the terms bm25s used to.

tantivy scores with Lucene's BM25 (k1 = 1.2, b = 0.75, fixed in tantivy; lengths stored in one byte as Lucene
does) and counts documents that are deleted but not yet compacted away in its statistics, so scores can differ
slightly from an exact BM25 until `optimize`. Documents carry the catalog's key; a reader keeps only live keys.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tantivy

#: the BM25 parameters tantivy scores with (not configurable there)
K1, B = 1.2, 0.75
#: tantivy keeps classic BM25's (k1 + 1) factor, which Lucene (and bm25s's "lucene" method, the snapshot store's
#: scores) dropped; dividing it out puts scores on the old scale (rankings never depended on it)
_SCALE = 1.0 / (K1 + 1.0)
_KEY, _TOKENS = "key", "tokens"
_MAX_KEY = 2**63 - 1
_WRITER_HEAP = 64_000_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field(_KEY, stored=False, indexed=True, fast=True)
    builder.add_text_field(_TOKENS, stored=False, tokenizer_name="whitespace", index_option="freq")
    return builder.build()


SCHEMA = _schema()


def create(folder: Path) -> None:
    folder.mkdir()
    tantivy.Index(SCHEMA, path=str(folder))


def add(folder: Path, keys: np.ndarray, tokens: list[list[str]], drop_from: int, published: int) -> None:
    """Add documents and commit. When the index holds more than the `published` documents a manifest counts, an
    interrupted write left some that no manifest ever published, under keys handed out again: those at or above
    `drop_from` are deleted first (checked, not done always: the delete costs a pass over every segment)."""
    index = tantivy.Index.open(str(folder))
    writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
    if index.searcher().num_docs > published:
        writer.delete_documents_by_query(tantivy.Query.range_query(SCHEMA, _KEY, tantivy.FieldType.Unsigned,
                                                                   int(drop_from), _MAX_KEY))
    for key, doc_tokens in zip(keys.tolist(), tokens):
        doc = tantivy.Document()
        doc.add_unsigned(_KEY, key)
        doc.add_text(_TOKENS, " ".join(doc_tokens))
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()


def rebuild(folder: Path, pages) -> int:
    """A new index in `folder` from `pages` of (key, space-joined tokens); returns the documents written."""
    create(folder)
    writer = tantivy.Index.open(str(folder)).writer(heap_size=_WRITER_HEAP, num_threads=1)
    count = 0
    for page in pages:
        for key, joined in page:
            doc = tantivy.Document()
            doc.add_unsigned(_KEY, int(key))
            doc.add_text(_TOKENS, joined)
            writer.add_document(doc)
        count += len(page)
    writer.commit()
    writer.wait_merging_threads()
    return count


def _query(tokens: list[str]) -> tantivy.Query | None:
    clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(SCHEMA, _TOKENS, t)) for t in tokens]
    return tantivy.Query.boolean_query(clauses) if clauses else None


class LexicalReader:
    """One tantivy searcher, opened once: it keeps the segments it saw whatever writers commit later."""

    def __init__(self, folder: Path):
        self.searcher = tantivy.Index.open(str(folder)).searcher()

    @property
    def documents(self) -> int:
        return self.searcher.num_docs

    def top(self, tokens: list[str], n: int, live, dead_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(keys, scores) of the best `n` live documents, best first; `live(keys)` says which keys count.
        The first page is widened by the share of dead documents; more is asked when they still fill it."""
        query = _query(tokens)
        if query is None or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        limit = n + int(np.ceil(2 * dead_share * n)) + (4 if dead_share else 0)
        while True:
            hits = self.searcher.search(query, limit).hits
            keys = np.asarray(self.searcher.fast_field_values(_KEY, [a for _, a in hits]), np.int64)
            scores = np.asarray([s * _SCALE for s, _ in hits], np.float32)
            keep = live(keys)
            if keep.sum() >= n or len(hits) < limit:
                keys, scores = keys[keep], scores[keep]
                order = np.lexsort((keys, -scores))[:n]  # ties by key, as rows are
                return keys[order], scores[order]
            limit *= 4

    def scores(self, tokens: list[str], keys: np.ndarray) -> np.ndarray:
        """BM25 of the documents with `keys` (0 where no token matches)."""
        query = _query(tokens)
        out = np.zeros(len(keys), np.float32)
        if query is None or not len(keys):
            return out
        only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(SCHEMA, _KEY, keys.tolist()), 0.0)
        restricted = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)])
        hits = self.searcher.search(restricted, len(keys)).hits
        found = np.asarray(self.searcher.fast_field_values(_KEY, [a for _, a in hits]), np.int64)
        position = {int(k): i for i, k in enumerate(keys.tolist())}
        for key, (score, _) in zip(found.tolist(), hits):
            out[position[key]] = score * _SCALE
        return out
