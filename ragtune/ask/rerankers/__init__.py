"""Reranker factory, by config name ("none" disables reranking), and the choice per question language."""

from __future__ import annotations

from ragtune.ask.rerankers.base import Reranker
from ragtune.ask.rerankers.cross_encoder import MsMarcoMiniLMReranker
from ragtune.ask.rerankers.query_likelihood import QueryLikelihoodReranker
from ragtune.config import Config
from ragtune.errors import RagtuneError

RERANKERS: dict[str, type[Reranker]] = {cls.name: cls for cls in (MsMarcoMiniLMReranker, QueryLikelihoodReranker)}
#: `reranker: auto`: the packaged reranker per question language
AUTO = {"en": MsMarcoMiniLMReranker.name, "zh": QueryLikelihoodReranker.name}


def create_reranker(name: str, config: Config | None = None) -> Reranker | None:
    """The backend `name` names, built from `config` (defaults when None)."""
    if name in ("", "none"):
        return None
    try:
        cls = RERANKERS[name]
    except KeyError:
        raise RagtuneError(f"unknown reranker {name!r}; known: none, {', '.join(RERANKERS)}") from None
    return cls.from_config(config or Config())


def create_rerankers(config: Config) -> dict[str, Reranker]:
    """Question language -> its reranker: `retrieval.reranker` ("auto": AUTO's), or `retrieval.reranker_zh` for
    Chinese when set.

    A name used for both languages is built once; a language the default reranker does not cover keeps the
    fused order, but a per-language choice that does not cover its language is a config error.
    """
    retrieval = config.retrieval
    names = {lang: AUTO[lang] if retrieval.reranker == "auto" else retrieval.reranker for lang in AUTO}
    if retrieval.reranker_zh is not None:
        names["zh"] = AUTO["zh"] if retrieval.reranker_zh == "auto" else retrieval.reranker_zh
    built: dict[str, Reranker | None] = {}
    chosen: dict[str, Reranker] = {}
    for language, name in names.items():
        if name not in built:
            built[name] = create_reranker(name, config)
        reranker = built[name]
        if reranker is None:
            continue
        if language in reranker.languages:
            chosen[language] = reranker
        elif language == "zh" and retrieval.reranker_zh is not None:
            raise RagtuneError(f"retrieval.reranker_zh: {name!r} does not cover Chinese questions "
                               f"(it covers {', '.join(sorted(reranker.languages))})")
    return chosen


__all__ = ["AUTO", "RERANKERS", "Reranker", "create_reranker", "create_rerankers"]
