"""Reranker factory, by config name ("none" disables reranking)."""

from __future__ import annotations

from ragtune.ask.rerankers.base import Reranker
from ragtune.ask.rerankers.cross_encoder import MsMarcoMiniLMReranker
from ragtune.errors import RagtuneError

RERANKERS: dict[str, type[Reranker]] = {MsMarcoMiniLMReranker.name: MsMarcoMiniLMReranker}


def create_reranker(name: str, threads: int = 2) -> Reranker | None:
    if name in ("", "none"):
        return None
    try:
        return RERANKERS[name](threads=threads)
    except KeyError:
        raise RagtuneError(f"unknown reranker {name!r}; known: none, {', '.join(RERANKERS)}") from None


__all__ = ["RERANKERS", "Reranker", "create_reranker"]
