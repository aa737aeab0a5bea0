"""Checks that answers stay within their cited passages, and spots answers that abstain."""

from __future__ import annotations

import re
from collections.abc import Sequence

# An answer is grounded when at least this share of its content tokens occurs in its cited passages.
# 0.8 tolerates connective words and light paraphrase while still flagging answers that add facts.
GROUNDING_THRESHOLD = 0.8

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# One token per CJK ideograph (Chinese is compared character by character) and one per run of other
# letters/digits (English words, numbers, "1998" in "1998年"). Punctuation and whitespace never form tokens.
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")

_STOPWORDS = frozenset(
    {
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with",
        "from", "as", "into", "about", "than", "then", "so", "is", "are", "was", "were", "be", "been",
        "being", "am", "do", "does", "did", "has", "have", "had", "it", "its", "this", "that", "these",
        "those", "there", "here", "which", "who", "whom", "what", "when", "where", "why", "how", "he",
        "she", "they", "we", "you", "i", "his", "her", "their", "our", "your", "him", "them", "us",
        "me", "my", "s", "t", "not", "no",
    }
)  # fmt: skip

_ABSTAIN_EN = re.compile(
    r"\bi\s+(?:do|can)\s*n[o'’]?t\s+know\b"
    r"|\b(?:can\s*not|can[’']?t|unable\s+to|not\s+able\s+to)\s+(?:be\s+)?answer"
    r"|\bnot\s+(?:\w+\s+)?(?:in|from)\s+the\s+(?:given\s+|provided\s+)?(?:context|passages?|documents?|sources?)\b"
    r"|\b(?:context|passages?|documents?|sources?)\s+(?:does|do)\s*n[o'’]?t\s+"
    r"(?:contain|mention|say|provide|include|specify)",
    re.IGNORECASE,
)
_ABSTAIN_ZH = re.compile(r"不知道|无法回答|不能回答|无从得知|无法得知|没有提到|没有提及|未提及|未提到")


def _content_tokens(text: str) -> list[str]:
    return [tok for tok in _TOKEN.findall(text.lower()) if tok not in _STOPWORDS]


def is_grounded(answer: str, cited_passages: Sequence[str]) -> bool:
    """Whether ≥ GROUNDING_THRESHOLD of the answer's content tokens occur in the cited passages.

    Chinese is compared per character (punctuation removed); English per lowercased word, minus a small
    stopword list. No citations, or an answer with no content tokens, is not grounded.
    """
    if not cited_passages:
        return False
    tokens = _content_tokens(answer)
    if not tokens:
        return False
    source = set(_TOKEN.findall(" ".join(cited_passages).lower()))
    return sum(tok in source for tok in tokens) / len(tokens) >= GROUNDING_THRESHOLD


def is_abstention(answer: str) -> bool:
    """Whether the answer declines ("I don't know", "not in the context", 无法回答, 未提及, ...)."""
    return bool(_ABSTAIN_EN.search(answer) or _ABSTAIN_ZH.search(answer))


def grounding_stats(
    answers: Sequence[str], cited_texts_per_answer: Sequence[Sequence[str]]
) -> dict[str, float]:
    """{"grounded", "abstained"} on a 0–100 scale.

    "abstained" is the share of all answers that abstain; "grounded" is the share of the *non-abstaining*
    answers that are grounded (an abstention has nothing to ground), 0 when every answer abstains.
    """
    if len(answers) != len(cited_texts_per_answer):
        raise ValueError("answers and cited_texts_per_answer differ in length")
    if not answers:
        return {"grounded": 0.0, "abstained": 0.0}
    abstained = [is_abstention(a) for a in answers]
    attempted = [
        (a, c) for a, c, ab in zip(answers, cited_texts_per_answer, abstained, strict=True) if not ab
    ]
    grounded = sum(is_grounded(a, c) for a, c in attempted)
    return {
        "grounded": 100 * grounded / len(attempted) if attempted else 0.0,
        "abstained": 100 * sum(abstained) / len(answers),
    }
