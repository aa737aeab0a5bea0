"""SQuAD-format files: one parser shared by `read` (paragraphs → documents) and questions.py (questions).

Every field is checked for its JSON type as it is used, so a malformed file is one LoadError that says
where (`article 3 paragraph 0: "context" must be a string, not null`), never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.files import read_regular
from ragtune.read.document import Document
from ragtune.read.limits import depth_error, json_too_deep

_SHAPE = 'not a SQuAD-format JSON (expected {"data": [{"paragraphs": [...]}]})'


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def expect(value: object, kind: type | tuple[type, ...], path: Path, where: str, name: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        expected = {list: "an array", dict: "an object", str: "a string"}.get(kind, "a string or number")
        raise LoadError(path, f'{where}: "{name}" must be {expected}, not {json_type(value)}')


def paragraph_id(stem: str, article: int, paragraph: int, record: dict) -> str:
    """A paragraph keeps its own id (CMRC has one); otherwise `<file stem>-<article>-<paragraph>`."""
    own = record.get("id")
    return str(own) if own not in (None, "") else f"{stem}-{article}-{paragraph}"


def read_json(path: Path, max_depth: int | None = None) -> object:
    """A JSON file parsed (UTF-8, BOM allowed), within `max_depth` levels of nesting when given."""
    try:
        raw = json.loads(read_regular(path).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(path, f"invalid JSON: {exc}") from exc
    except RecursionError:
        raise (depth_error(path, max_depth) if max_depth else LoadError(path, "JSON nested too deeply")) from None
    if max_depth is not None and json_too_deep(raw, max_depth):
        raise depth_error(path, max_depth)
    return raw


def parse_squad(path: Path, max_depth: int | None = None, raw: object = None) -> list[dict]:
    """The articles of a SQuAD-format file (`raw`: its JSON when the caller parsed it already)."""
    if raw is None:
        raw = read_json(path, max_depth)
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, list):
        raise LoadError(path, _SHAPE)
    for a, article in enumerate(data):
        if not isinstance(article, dict) or "paragraphs" not in article:
            raise LoadError(path, f"article {a}: {_SHAPE}")
        expect(article["paragraphs"], list, path, f"article {a}", "paragraphs")
        if article.get("title") is not None:
            expect(article["title"], (str, int, float), path, f"article {a}", "title")
        for p, para in enumerate(article["paragraphs"]):
            if not isinstance(para, dict):
                raise LoadError(path, f"article {a} paragraph {p}: must be an object, not {json_type(para)}")
            if para.get("id") is not None:
                expect(para["id"], (str, int), path, f"article {a} paragraph {p}", "id")
    return data


def load_squad_documents(path: Path, max_depth: int | None = None, raw: object = None) -> list[Document]:
    """Every paragraph as a document, titled by its article; `max_depth` bounds the JSON nesting."""
    docs = []
    for a, article in enumerate(parse_squad(path, max_depth, raw)):
        for p, para in enumerate(article["paragraphs"]):
            expect(para.get("context"), str, path, f"article {a} paragraph {p}", "context")
            if para["context"].strip():
                doc_id = paragraph_id(path.stem, a, p, para)
                docs.append(Document(id=doc_id, text=para["context"], title=str(article.get("title") or "")))
    return docs
