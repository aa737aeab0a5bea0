"""Faithfulness of a summary to its source, lexically: the share of its sentences whose content the source holds.

A sentence counts as supported when at least `threshold` of its unit bigrams (CJK characters and lower-cased
words, punctuation dropped; a one-unit sentence by its unigram) occur in the source. This is an entailment-free
proxy: it rewards copying, it catches invented names, numbers and phrasings, and it cannot see a negation flipped
or two true facts wrongly joined. Bigrams, not unigrams, because nearly every Chinese character of a summary
occurs somewhere in a long Chinese source.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragtune.read.chunking import split_sentences
from ragtune.text import split_units

#: default share of a sentence's bigrams that must occur in the source (eval.faithfulness_threshold)
THRESHOLD = 0.6


def content_units(text: str) -> list[str]:
    """Lower-cased CJK characters and words; punctuation marks dropped."""
    return [u.lower() for u in split_units(text) if any(ch.isalnum() for ch in u)]


def _grams(units: list[str]) -> list[tuple[str, ...]]:
    if len(units) < 2:
        return [tuple(units)] if units else []
    return list(zip(units, units[1:]))


def sentence_support(sentence: str, source_grams: set[tuple[str, ...]]) -> float | None:
    """Share (0–1) of the sentence's bigrams found in the source's; None for a sentence without content."""
    grams = _grams(content_units(sentence))
    if not grams:
        return None
    return sum(g in source_grams for g in grams) / len(grams)


def source_grams(source: str) -> set[tuple[str, ...]]:
    units = content_units(source)
    return set(_grams(units)) | {(u,) for u in units}


def faithfulness(summary: str, source: str, threshold: float = THRESHOLD) -> float | None:
    """Share (0–1) of the summary's sentences supported by `source`; None when it has no sentence with content."""
    grams = source_grams(source)
    supports = [s for s in (sentence_support(x, grams) for x in split_sentences(summary)) if s is not None]
    if not supports:
        return None
    return sum(s >= threshold for s in supports) / len(supports)


def supported_sentences(summary: str, source: str, threshold: float = THRESHOLD) -> list[str]:
    """The summary's sentences that `source` supports (in order); sentences without content are dropped."""
    grams = source_grams(source)
    return [x for x in split_sentences(summary) if (sentence_support(x, grams) or 0.0) >= threshold]


def mean_faithfulness(summaries: Sequence[str], sources: Sequence[str], threshold: float = THRESHOLD) -> float:
    """Mean per-summary faithfulness (0–100); an empty summary counts as 0 (nothing it says is supported)."""
    if len(summaries) != len(sources):
        raise ValueError("summaries and sources differ in length")
    if not summaries:
        return 0.0
    values = [faithfulness(s, d, threshold) for s, d in zip(summaries, sources, strict=True)]
    return 100 * sum(v or 0.0 for v in values) / len(values)
