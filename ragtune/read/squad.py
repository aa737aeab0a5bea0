"""SQuAD-format files: one parser shared by `read` (paragraphs → documents) and `eval` (questions)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.document import Document


@dataclass
class SquadQuestion:
    id: str
    question: str
    answers: list[str]
    passage_id: str


def paragraph_id(stem: str, article: int, paragraph: int, record: dict) -> str:
    """A paragraph keeps its own id (CMRC has one); otherwise `<file stem>-<article>-<paragraph>`."""
    own = record.get("id")
    return str(own) if own not in (None, "") else f"{stem}-{article}-{paragraph}"


def _parse(path: Path) -> list[dict]:
    try:
        raw = json.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadError(path, f"invalid JSON: {exc}") from exc
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, list) or not all(isinstance(a, dict) and "paragraphs" in a for a in data):
        raise LoadError(path, 'not a SQuAD-format JSON (expected {"data": [{"paragraphs": [...]}]})')
    return data


def load_squad_documents(path: Path) -> list[Document]:
    """Every paragraph as a document, titled by its article."""
    docs = []
    for a, article in enumerate(_parse(path)):
        for p, para in enumerate(article["paragraphs"]):
            context = para.get("context") if isinstance(para, dict) else None
            if not isinstance(context, str):
                raise LoadError(path, f"article {a} paragraph {p} has no 'context' string")
            if context.strip():
                doc_id = paragraph_id(path.stem, a, p, para)
                docs.append(Document(id=doc_id, text=context, title=str(article.get("title", ""))))
    return docs


def load_squad_questions(path: Path) -> list[SquadQuestion]:
    """Every question with all its reference answers and the id of its gold paragraph."""
    questions = []
    for a, article in enumerate(_parse(path)):
        for p, para in enumerate(article["paragraphs"]):
            pid = paragraph_id(path.stem, a, p, para)
            for qa in para.get("qas", []):
                answers = [str(x["text"]) for x in qa.get("answers", []) if str(x.get("text", "")).strip()]
                questions.append(SquadQuestion(str(qa.get("id", "")), str(qa["question"]), answers, pid))
    return questions
