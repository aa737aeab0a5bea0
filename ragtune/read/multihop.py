"""Multi-hop QA sets, recognised by their content: HotpotQA and MuSiQue questions, and their passage corpora.

One parse gives both what `read` indexes and what `eval` asks, so the gold ids always name indexed passages:

- HotpotQA (a json list or json lines): `{"_id", "question", "answer", "context": [[title, [sentences]]],
  "supporting_facts": [[title, sentence index]]}`; its corpus file (KAG's) is `{title: [sentences]}`.
- MuSiQue (a json list or json lines): `{"id", "question", "answer", "answer_aliases", "paragraphs":
  [{"title", "paragraph_text", "is_supporting"}]}`; unanswerable questions (`"answerable": false`) are left
  out. Its corpus file is a list of `{"title", "text"}` (any such list without ids loads the same way).

Passage ids are titles. Paragraphs are pooled across questions and de-duplicated by (title, text). When one
title holds several different paragraphs (MuSiQue has 85 such titles in its 1,890-passage sample), the first
in file order keeps the bare title and each other one is `"<title> [<first 8 hex of its text's SHA-1>]"`: the
suffix depends on the text alone, and a file listing the same paragraphs in the same order (KAG's corpus and
question files do) gives every paragraph the same id. A question's gold passages are its supporting
paragraphs, and it counts as found at k only when all of them are in the top k (`Question.all_required`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.document import Document
from ragtune.read.questions import Question
from ragtune.read.squad import json_type

HOTPOTQA, MUSIQUE, HOTPOTQA_CORPUS, TITLED_CORPUS = "HotpotQA", "MuSiQue", "HotpotQA corpus", "titled corpus"


@dataclass
class MultihopSet:
    """A multi-hop file's passages (pooled, de-duplicated) and questions (none for a corpus file)."""

    kind: str
    documents: list[Document] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def multihop_kind(raw: object) -> str | None:
    """Which multi-hop shape parsed JSON has (a list of records, or a json-lines file's records), judged by its
    first record; None for anything else (SQuAD, ragtune's own jsonl), which the other readers take."""
    if isinstance(raw, dict):
        first = next(iter(raw.values()), None)
        if "data" not in raw and isinstance(first, list) and first and all(isinstance(s, str) for s in first):
            return HOTPOTQA_CORPUS  # {title: [sentences]}
        return None
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], dict):
        return None
    first = raw[0]
    if "question" in first and "context" in first and "supporting_facts" in first:
        return HOTPOTQA
    if "question" in first and isinstance(first.get("paragraphs"), list):
        return MUSIQUE
    if "title" in first and "text" in first and not {"id", "_id", "question"} & first.keys():
        return TITLED_CORPUS
    return None


def parse_multihop(path: Path, raw: Sequence | dict, kind: str) -> MultihopSet:
    """The passages and questions of a file `multihop_kind` recognised; LoadError naming the record otherwise."""
    pool = _Pool()
    parsed = MultihopSet(kind)
    if kind == HOTPOTQA_CORPUS:
        for title, sentences in raw.items():
            pool.add(title, _sentences(path, sentences, f"passage {title!r}"))
    elif kind == TITLED_CORPUS:
        for n, record in enumerate(raw):
            _expect_object(path, record, f"record {n}")
            pool.add(_string(path, record, "title", f"record {n}"), _string(path, record, "text", f"record {n}"))
    else:
        read_question = _hotpotqa_question if kind == HOTPOTQA else _musique_question
        for n, record in enumerate(raw):
            _expect_object(path, record, f"question {n}")
            question = read_question(path, record, n, pool.add)
            if question is not None:
                parsed.questions.append(question)
    parsed.documents = pool.documents()
    if not parsed.documents:
        raise LoadError(path, f"{kind} file with no paragraphs")
    return parsed


class _Pool:
    """Paragraphs pooled across questions: one id per distinct (title, text), the rule in the module docstring."""

    def __init__(self):
        self.ids: dict[tuple[str, str], str] = {}
        self.titles: set[str] = set()

    def add(self, title: str, text: str) -> str:
        key = (title, text)
        if key not in self.ids:
            pid = title if title not in self.titles else f"{title} [{hashlib.sha1(text.encode()).hexdigest()[:8]}]"
            self.titles.add(title)
            self.ids[key] = pid
        return self.ids[key]

    def documents(self) -> list[Document]:
        return [Document(id=pid, text=text, title=title) for (title, text), pid in self.ids.items() if text.strip()]


def _hotpotqa_question(path: Path, record: dict, n: int, add: Callable[[str, str], str]) -> Question:
    where = f"question {n}"
    text, answer = _string(path, record, "question", where), _string(path, record, "answer", where)
    context, facts = record.get("context"), record.get("supporting_facts")
    if not isinstance(context, list) or not isinstance(facts, list):
        raise LoadError(path, f'{where}: "context" and "supporting_facts" must be arrays')
    ids: dict[str, str] = {}
    for p, item in enumerate(context):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise LoadError(path, f"{where} paragraph {p}: expected [title, [sentences]]")
        ids.setdefault(item[0], add(item[0], _sentences(path, item[1], f"{where} paragraph {p}")))
    gold: dict[str, int] = {}
    for fact in facts:
        if not (isinstance(fact, list) and fact and isinstance(fact[0], str)):
            raise LoadError(path, f"{where}: supporting_facts rows must be [title, sentence index]")
        if fact[0] not in ids:
            raise LoadError(path, f"{where}: supporting title {fact[0]!r} is not among its context paragraphs")
        gold[ids[fact[0]]] = 1
    qid = record.get("_id", record.get("id"))
    return Question(str(qid) if qid not in (None, "") else f"{path.stem}-{n}", text, (answer,), gold,
                    all_required=True)


def _musique_question(path: Path, record: dict, n: int, add: Callable[[str, str], str]) -> Question | None:
    where = f"question {n}"
    text, answer = _string(path, record, "question", where), _string(path, record, "answer", where)
    aliases = record.get("answer_aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise LoadError(path, f'{where}: "answer_aliases" must be an array of strings')
    gold: dict[str, int] = {}
    for p, para in enumerate(record["paragraphs"]):
        _expect_object(path, para, f"{where} paragraph {p}")
        pid = add(_string(path, para, "title", f"{where} paragraph {p}"),
                  _string(path, para, "paragraph_text", f"{where} paragraph {p}"))
        if para.get("is_supporting"):
            gold[pid] = 1
    if record.get("answerable") is False:
        return None
    if not gold:
        raise LoadError(path, f"{where}: no paragraph has is_supporting true")
    answers = tuple(dict.fromkeys(a for a in (answer, *aliases) if a.strip()))
    return Question(str(record.get("id") or f"{path.stem}-{n}"), text, answers, gold, all_required=True)


def _expect_object(path: Path, value: object, where: str) -> None:
    if not isinstance(value, dict):
        raise LoadError(path, f"{where}: must be an object, not {json_type(value)}")


def _string(path: Path, record: dict, name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        raise LoadError(path, f'{where}: "{name}" must be a string, not {json_type(value)}')
    return value


def _sentences(path: Path, sentences: object, where: str) -> str:
    """A paragraph kept as HotpotQA splits it into sentences (each after the first starts with its space)."""
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise LoadError(path, f"{where}: sentences must be an array of strings")
    return "".join(sentences)
