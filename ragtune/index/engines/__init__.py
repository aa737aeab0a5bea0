"""Kept engines the embedded index is glued from: SQLite (passages, sources, the manifest), tantivy (BM25), faiss
plus an append-only vector file (dense). Each adds in place; only the SQLite commit makes a change visible."""
