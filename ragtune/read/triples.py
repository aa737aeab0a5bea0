"""(text, triples) examples for extraction, from the formats ragtune takes them in: DuIE 2.0 (`spo_list`), WebNLG
(`triples` + several `texts`) and ragtune's own {"text", "triples": [[s, p, o], ...]}, all JSON lines.

One `TripleExample` and one loader serve `train generator --task extract`, `eval --task extract` and the
extraction benchmark, as read/summaries.py does for summaries. A WebNLG entry is one example: its first text is
the one evaluated, the others (`other_texts`) are extra training inputs with the same triples — so held-out
entries are split whole and never leak into training through a paraphrase, and each entry's triples count once.
WebNLG names are DBpedia ids; they are decoded to the text's spelling ("Abilene,_Texas" → "Abilene, Texas",
'"18L/36R"' → "18L/36R"), so exact match asks for the name as a text writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.encoding import iter_jsonl


@dataclass(frozen=True)
class Triple:
    """A (subject, predicate, object) fact as extracted (graph/triples.py parses them), with the entity types a
    schema gives its predicate."""

    subject: str
    predicate: str
    object: str
    subject_type: str = ""
    object_type: str = ""


@dataclass(frozen=True)
class TripleExample:
    """A text and its gold triples; `other_texts` say the same triples in other words (WebNLG)."""

    id: str
    text: str
    triples: tuple[Triple, ...]
    other_texts: tuple[str, ...] = ()


def load_triples(path: str | Path) -> list[TripleExample]:
    """Examples of a .jsonl file, the format told by each line's keys; LoadError naming the file and line for
    anything malformed, and when the file holds no example."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LoadError(path, "no such file" if not path.exists() else "not a regular file")
    if path.suffix.lower() != ".jsonl":
        raise LoadError(path, f"unsupported triple data {path.suffix or '(none)'!r}: use .jsonl")
    examples = []
    for number, record in iter_jsonl(path):
        example = _example(path, number, record)
        if example.text.strip():
            examples.append(example)
    if not examples:
        raise LoadError(path, "no (text, triples) examples")
    return examples


def _example(path: Path, number: int, record: dict) -> TripleExample:
    where = f"line {number}"
    default_id = f"{path.stem}-{number}"
    if "spo_list" in record:
        return TripleExample(str(record.get("id", default_id)), _text(path, where, record.get("text")),
                             tuple(_duie_triple(path, where, spo) for spo in _list(path, where, record, "spo_list")))
    if "texts" in record:
        texts = [_text(path, where, t) for t in _list(path, where, record, "texts")]
        if not texts:
            raise LoadError(path, f'{where}: "texts" is empty')
        triples = tuple(_webnlg_triple(_row(path, where, row)) for row in _list(path, where, record, "triples"))
        return TripleExample(str(record.get("eid", record.get("id", default_id))), texts[0], triples,
                             tuple(texts[1:]))
    if "text" in record and "triples" in record:
        triples = tuple(Triple(*_row(path, where, row)) for row in _list(path, where, record, "triples"))
        return TripleExample(str(record.get("id", default_id)), _text(path, where, record["text"]), triples)
    raise LoadError(path, f'{where}: needs {{"text", "triples"}}, DuIE\'s {{"text", "spo_list"}} or WebNLG\'s '
                          '{"triples", "texts"}')


def _text(path: Path, where: str, value) -> str:
    if not isinstance(value, str):
        raise LoadError(path, f"{where}: the text must be a string")
    return value


def _list(path: Path, where: str, record: dict, key: str) -> list:
    value = record.get(key)
    if not isinstance(value, list):
        raise LoadError(path, f'{where}: "{key}" must be a list')
    return value


def _name(path: Path, where: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LoadError(path, f"{where}: a triple's subject, predicate and object must be non-empty strings")
    return value.strip()


def _row(path: Path, where: str, row) -> tuple[str, str, str]:
    """[s, p, o] or {"subject", "predicate", "object"}."""
    if isinstance(row, dict):
        row = [row.get("subject"), row.get("predicate"), row.get("object")]
    if not isinstance(row, list) or len(row) != 3:
        raise LoadError(path, f"{where}: a triple must be [subject, predicate, object]")
    return _name(path, where, row[0]), _name(path, where, row[1]), _name(path, where, row[2])


def _value(value):
    """DuIE writes an object and its type as {"@value": ..., "inWork": ...}: the main value is kept."""
    return value.get("@value") if isinstance(value, dict) else value


def _duie_triple(path: Path, where: str, spo) -> Triple:
    if not isinstance(spo, dict):
        raise LoadError(path, f"{where}: each spo_list entry must be an object")
    subject, predicate, obj = (_name(path, where, _value(spo.get(k))) for k in ("subject", "predicate", "object"))
    types = [_value(spo.get(k)) for k in ("subject_type", "object_type")]
    return Triple(subject, predicate, obj, *(t.strip() if isinstance(t, str) else "" for t in types))


def _dbpedia_name(name: str) -> str:
    """A DBpedia id or literal as a text writes it: underscores as spaces, an RDF literal's quotes removed."""
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = name[1:-1]
    return name.replace("_", " ").strip() or name


def _webnlg_triple(row: tuple[str, str, str]) -> Triple:
    subject, predicate, obj = row
    return Triple(_dbpedia_name(subject), predicate, _dbpedia_name(obj))
