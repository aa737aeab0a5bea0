"""Citation markers in generated answers: which passages an answer claims to use."""

from __future__ import annotations

import re

_MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")


def cited_numbers(answer: str, n_passages: int) -> list[int]:
    """1-based passage numbers cited as [1], [1, 2] or 【1】, in order of first mention, in range."""
    seen: list[int] = []
    for match in _MARKER.finditer(answer):
        for number in re.split(r"\s*[,，、]\s*", match.group(1)):
            value = int(number)
            if 1 <= value <= n_passages and value not in seen:
                seen.append(value)
    return seen


def strip_citations(answer: str) -> str:
    """The answer text without markers (what EM/F1 compare against references)."""
    text = _MARKER.sub("", answer)
    return re.sub(r"\s+([,.;:!?，。；：！？])", r"\1", text).strip()
