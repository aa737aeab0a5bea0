"""Script normalisation for the search views (BM25 tokens and dense vectors), never for stored text.

jieba's dictionary and the multilingual encoder were built mostly on Simplified Chinese: a Traditional passage
or question is cut into poor tokens and embedded weakly. Converting both sides to Simplified with OpenCC (`t2s`,
a near no-op on Simplified text: 39 of 2.2 M characters of CMRC 2018 dev change) lets a Traditional corpus and
a question in either script meet. An index records which normalisation built it, so queries always get the same.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from ragtune.errors import RagtuneError


def _identity(text: str) -> str:
    return text


@cache
def _opencc(config: str) -> Callable[[str], str]:
    import opencc

    return opencc.OpenCC(config).convert


#: config name -> text -> normalised text; "none" is what indexes written before normalisation existed have
SCRIPTS: dict[str, Callable[[], Callable[[str], str]]] = {
    "none": lambda: _identity,
    "t2s": lambda: _opencc("t2s"),
}


def script_normalizer(name: str) -> Callable[[str], str]:
    """The text -> text function a config or manifest name stands for."""
    try:
        return SCRIPTS[name]()
    except KeyError:
        raise RagtuneError(f"unknown script normalisation {name!r}; known: {', '.join(SCRIPTS)}") from None
