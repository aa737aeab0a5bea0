"""Which predicates extraction may produce, with the entity types each joins (DuIE's 48-predicate schema, or a
small list of your own): the prompt lists them, and parse_triples drops any triple outside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ragtune.errors import LoadError


@dataclass(frozen=True)
class Schema:
    """predicate -> (subject_type, object_type); an empty type means any."""

    predicates: dict[str, tuple[str, str]]

    def allows(self, predicate: str) -> bool:
        return predicate in self.predicates

    def types(self, predicate: str) -> tuple[str, str]:
        return self.predicates.get(predicate, ("", ""))

    def __len__(self) -> int:
        return len(self.predicates)


def _type(value, path: Path, field: str) -> str:
    """A type as DuIE writes it: a string, or {"@value": main type, "inWork": ...} (the main type is kept)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = value.get("@value", "")
    if not isinstance(value, str):
        raise LoadError(path, f"{field} must be a string or {{\"@value\": ...}}, not {type(value).__name__}")
    return value.strip()


def _entry(item, path: Path) -> tuple[str, tuple[str, str]]:
    if isinstance(item, str):
        name, types = item, ("", "")
    elif isinstance(item, dict):
        name = item.get("predicate", item.get("name"))
        types = (_type(item.get("subject_type"), path, "subject_type"),
                 _type(item.get("object_type"), path, "object_type"))
    else:
        raise LoadError(path, f"a schema entry must be a predicate name or an object, not {type(item).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise LoadError(path, f"a schema entry has no predicate name: {str(item)[:80]}")
    return name.strip(), types


def _parsed(path: Path, text: str):
    """The file's entries: a JSON array, JSON lines (DuIE's original layout), or YAML/JSON {"predicates": [...]}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            data = [json.loads(line) for line in lines] if lines and lines[0].lstrip().startswith("{") else None
        except json.JSONDecodeError as exc:
            raise LoadError(path, f"not JSON lines: {exc.msg} (line {exc.lineno})") from None
        if data is None:
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise LoadError(path, f"neither JSON nor YAML: {str(exc).splitlines()[0]}") from None
    if data is None:  # an empty file
        return []
    if isinstance(data, dict):
        if "predicates" not in data:
            raise LoadError(path, 'a schema object needs a "predicates" list')
        data = data["predicates"]
    if not isinstance(data, list):
        raise LoadError(path, "a schema is a list of predicates (or {\"predicates\": [...]})")
    return data


def load_schema(path: str | Path) -> Schema:
    """The schema in `path`; a LoadError naming the file on anything malformed (a later duplicate must agree)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(path, f"cannot read the schema: {exc.__class__.__name__}") from None
    predicates: dict[str, tuple[str, str]] = {}
    for item in _parsed(path, text):
        name, types = _entry(item, path)
        if predicates.get(name, types) != types:
            raise LoadError(path, f"predicate {name!r} is listed twice with different types")
        predicates[name] = types
    if not predicates:
        raise LoadError(path, "the schema lists no predicates")
    return Schema(predicates)
