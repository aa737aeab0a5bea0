"""Entity keys: the form two names of one entity share ("Abilene,_Texas", "Abilene, Texas", "《甄嬛传》" → one key).

Alias merging in the graph and the entity-normalised triple match of `eval --task extract` both compare keys, so
a name differing only in width, case, underscores for spaces, quoting or edge punctuation is the same entity.
"""

from __future__ import annotations

import re
import unicodedata

#: quote and title marks removed wherever they are: they frame a name, they are never part of it
_QUOTES = re.compile("[\"“”„‟«»「」『』《》〈〉\u2018\u2019\u201a\u201b`´]")
#: punctuation, brackets and symbols trimmed from both ends (inner ones stay: "3,360.12", "18L/36R")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)
_SPACE = re.compile(r"\s+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def entity_key(name: str) -> str:
    """NFKC, casefolded, "_" as a space, quotes and 《》 removed, edge punctuation trimmed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", name).casefold().replace("_", " ")
    text = _QUOTES.sub("", text)
    # a closing bracket opened inside the name stays: "Foo (album)", not "Foo (album"
    closing = text.rstrip().endswith(")") and "(" in text.rstrip()[:-1].lstrip("(")
    text = _EDGE.sub("", text)
    if closing:
        text += ")"
    return _SPACE.sub(" ", text).strip()


def predicate_key(predicate: str) -> str:
    """A predicate compared loosely: camelCase split ("cityServed" = "city served"), then as entity_key."""
    return entity_key(_CAMEL.sub(" ", unicodedata.normalize("NFKC", predicate)))
