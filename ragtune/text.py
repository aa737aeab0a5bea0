"""Language-aware text helpers shared by chunking, BM25, prompts and metrics."""

from __future__ import annotations

import re

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_UNIT = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+|[^\\w\\s]", re.UNICODE)
_LETTER = re.compile(f"[{_CJK}]|[^\\W\\d_]", re.UNICODE)
#: C0 and C1 control characters and DEL, but tab and newline: escape sequences a terminal would act on
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: ANSI escape sequences (colour, cursor moves): removed whole, not only their ESC
_ANSI = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\\\-_]")
# lone surrogates: what Python makes of a file name that is not UTF-8; no encoder will write them
_SURROGATE = re.compile("[\ud800-\udfff]")


def cjk_ratio(text: str) -> float:
    """Share of CJK ideographs among letters and ideographs (0 when there are none)."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    return sum(1 for ch in letters if _CJK_CHAR.match(ch)) / len(letters)


def is_chinese(text: str) -> bool:
    """Whether text should be treated as Chinese (answers, tokenisation, metrics)."""
    return cjk_ratio(text) > 0.3


def language_of(text: str) -> str:
    """"zh" or "en": the language a question is answered and scored in."""
    return "zh" if is_chinese(text) else "en"


def split_units(text: str) -> list[str]:
    """The units count_units counts: CJK characters, words, punctuation marks."""
    return _UNIT.findall(text)


def count_units(text: str) -> int:
    """Approximate token count: one per CJK character, word, or punctuation mark."""
    return len(split_units(text))


def truncate_units(text: str, max_units: int) -> str:
    """Cut text after `max_units` units, keeping the original characters and spacing."""
    for i, match in enumerate(_UNIT.finditer(text)):
        if i == max_units:
            return text[: match.start()].rstrip() + " …"
    return text


def printable(text: str) -> str:
    """`text` without control characters (tab and newline kept): a document or answer printed to a terminal
    must not move the cursor, recolour, retitle or clear it."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", _ANSI.sub("", text)))


def shown(value: object) -> str:
    """A document's, a user's or a library's text inside a Rich markup line: shown as it is, never as markup
    (`[/]` would crash the print, `[link=…]` would render) and without terminal control characters."""
    from rich.markup import escape

    return escape(printable(str(value)))
