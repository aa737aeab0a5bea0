"""Per-question language detection for metrics, shared with the rest of ragtune so both agree."""

from __future__ import annotations

# One definition of "Chinese" for the whole tool: chunking, prompts and metrics must agree on it.
# cjk_ratio: share of CJK ideographs among letters/ideographs (digits, spaces, punctuation ignored);
# is_chinese: cjk_ratio > 0.3.
from ragtune.text import cjk_ratio, is_chinese

__all__ = ["cjk_ratio", "is_chinese"]
