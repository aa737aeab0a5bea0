"""Embedder factory: a config name picks the backend; any other name is a sentence-transformers model."""

from __future__ import annotations

from pathlib import Path

from ragtune.config import Config, EmbedderConfig
from ragtune.index.embedders.base import Embedder, normalize
from ragtune.index.embedders.onnx_bert import BgeSmallEnEmbedder
from ragtune.index.embedders.onnx_int8 import SUFFIX as INT8_SUFFIX
from ragtune.index.embedders.onnx_int8 import OnnxInt8Embedder
from ragtune.index.embedders.sentence_transformer import SentenceTransformerEmbedder
from ragtune.index.embedders.use import UseEmbedder

#: names with a dedicated backend class
EMBEDDERS: dict[str, type[Embedder]] = {cls.name: cls for cls in (UseEmbedder, BgeSmallEnEmbedder)}


def create_embedder(config: EmbedderConfig, cache_dir: Path | None = None) -> Embedder:
    """Build the embedder a config names: a dedicated backend, `<model>:int8`, or a sentence-transformers model."""
    common = dict(
        threads=config.threads,
        batch_size=config.batch_size,
        query_prefix=config.query_prefix,
        passage_prefix=config.passage_prefix,
    )
    cls = EMBEDDERS.get(config.name)
    if cls is not None:
        return cls(**common)
    if config.name.endswith(INT8_SUFFIX):
        return OnnxInt8Embedder(config.name, cache_dir or Config().resolved_cache_dir, **common)
    return SentenceTransformerEmbedder(config.name, **common)


__all__ = ["Embedder", "EMBEDDERS", "create_embedder", "normalize"]
