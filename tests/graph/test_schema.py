"""Schemas: DuIE's real 48-predicate file, the small {"predicates": [...]} form, and one-line errors."""

from __future__ import annotations

import pytest
from datafiles import SHARED

from ragtune.errors import LoadError
from ragtune.graph.schema import load_schema


def test_duie_schema_has_48_predicates_with_main_types():
    schema = load_schema(SHARED / "kg" / "duie_schema.json")
    assert len(schema) == 48
    assert schema.types("毕业院校") == ("人物", "学校")
    assert schema.types("配音") == ("娱乐人物", "人物")  # {"@value": 人物, "inWork": ...}: the main type
    assert not schema.allows("结婚")


def test_json_lines_yaml_and_plain_names(tmp_path):
    lines = tmp_path / "s.jsonl"
    lines.write_text('{"predicate": "作者", "subject_type": "图书作品", "object_type": {"@value": "人物"}}\n'
                     '{"predicate": "国籍", "subject_type": "人物", "object_type": {"@value": "国家"}}\n',
                     encoding="utf-8")
    assert load_schema(lines).types("国籍") == ("人物", "国家")
    small = tmp_path / "s.yaml"
    small.write_text("predicates:\n  - birthPlace\n  - {name: capital, subject_type: Country}\n", encoding="utf-8")
    schema = load_schema(small)
    assert schema.allows("birthPlace") and schema.types("capital") == ("Country", "")


@pytest.mark.parametrize("text, problem", [
    ("", "no predicates"), ("[]", "no predicates"), ("{\"x\": 1}", '"predicates"'), ("42", "a list"),
    ("[1]", "predicate name or an object"), ('[{"subject_type": "人物"}]', "no predicate name"),
    ('[{"predicate": "a", "object_type": 3}]', "object_type"), ("a: [unclosed\n", "neither JSON nor YAML"),
    ('{"predicate": "a"}\n{oops', "not JSON lines"),
    ('["a", {"predicate": "a", "subject_type": "X"}]', "twice with different types"),
])
def test_malformed_schema_names_the_file(tmp_path, text, problem):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError) as err:
        load_schema(path)
    assert str(path) in str(err.value) and problem in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(LoadError, match="cannot read"):
        load_schema(tmp_path / "none.json")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(LoadError, match="cannot read"):
        load_schema(binary)
