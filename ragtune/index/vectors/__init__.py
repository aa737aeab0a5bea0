"""Vector index factory, by config name."""

from __future__ import annotations

from ragtune.errors import RagtuneError
from ragtune.index.vectors.base import VectorIndex
from ragtune.index.vectors.flat import FlatIndex

VECTOR_INDEXES: dict[str, type[VectorIndex]] = {FlatIndex.name: FlatIndex}


def create_vector_index(name: str, dim: int) -> VectorIndex:
    try:
        return VECTOR_INDEXES[name](dim)
    except KeyError:
        raise RagtuneError(f"unknown vector backend {name!r}; known: {', '.join(VECTOR_INDEXES)}") from None


__all__ = ["VectorIndex", "VECTOR_INDEXES", "create_vector_index"]
