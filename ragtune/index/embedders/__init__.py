"""Embedder factory: a config name picks the backend; any other name is a sentence-transformers model."""

from __future__ import annotations

from ragtune.config import EmbedderConfig
from ragtune.index.embedders.base import Embedder, normalize
from ragtune.index.embedders.onnx_bert import BgeSmallEnEmbedder
from ragtune.index.embedders.sentence_transformer import SentenceTransformerEmbedder
from ragtune.index.embedders.use import UseEmbedder

#: names with a dedicated backend class
EMBEDDERS: dict[str, type[Embedder]] = {cls.name: cls for cls in (UseEmbedder, BgeSmallEnEmbedder)}


def create_embedder(config: EmbedderConfig) -> Embedder:
    """Build the embedder a config names."""
    common = dict(
        threads=config.threads,
        batch_size=config.batch_size,
        query_prefix=config.query_prefix,
        passage_prefix=config.passage_prefix,
    )
    cls = EMBEDDERS.get(config.name)
    if cls is not None:
        return cls(**common)
    return SentenceTransformerEmbedder(config.name, **common)


__all__ = ["Embedder", "EMBEDDERS", "create_embedder", "normalize"]
