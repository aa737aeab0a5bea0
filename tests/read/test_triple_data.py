"""(text, triples) loaders on a few real lines of DuIE and WebNLG (read from ../shared, not copied), ragtune's own
jsonl, and one-line errors naming the file."""

from __future__ import annotations

import itertools
import json

import pytest
from datafiles import SHARED

from ragtune.errors import LoadError
from ragtune.graph.triples import Triple
from ragtune.read.triples import load_triples

KG = SHARED / "kg"


def first_lines(source, target, n):
    with open(source, encoding="utf-8") as f:
        target.write_text("".join(itertools.islice(f, n)), encoding="utf-8")
    return target


def test_duie_lines(tmp_path):
    examples = load_triples(first_lines(KG / "duie2-dev-1000.jsonl", tmp_path / "duie.jsonl", 3))
    assert len(examples) == 3
    assert Triple("步步惊心", "作者", "桐华", "图书作品", "人物") in examples[0].triples
    assert examples[2].triples == (Triple("喜剧之王", "编剧", "周星驰", "影视作品", "人物"),)
    assert examples[0].id == "duie-1" and examples[0].other_texts == ()


def test_webnlg_entry_is_one_example_with_decoded_names(tmp_path):
    examples = load_triples(first_lines(KG / "webnlg2-en-931.jsonl", tmp_path / "webnlg.jsonl", 2))
    first, second = examples
    assert first.id == "Id1"
    assert first.text == "Abilene, Texas is served by the Abilene regional airport."
    assert first.other_texts == ("Abilene Regional Airport serves the city of Abilene in Texas.",)
    assert first.triples == (Triple("Abilene Regional Airport", "cityServed", "Abilene, Texas"),)
    assert second.triples[0].object == "18L/36R" and len(second.other_texts) == 2


def test_own_format_lists_and_objects(tmp_path):
    path = tmp_path / "own.jsonl"
    rows = [{"text": "Alan Bean was born in Wheeler, Texas.",
             "triples": [["Alan Bean", "birthPlace", "Wheeler, Texas"]]},
            {"id": "x", "text": "张洁写了《四只等着喂食的狗》。",
             "triples": [{"subject": "四只等着喂食的狗", "predicate": "作者", "object": "张洁"}]},
            {"text": "No facts here.", "triples": []}, {"text": "  ", "triples": []}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    examples = load_triples(path)
    assert [e.id for e in examples] == ["own-1", "x", "own-3"]
    assert examples[1].triples == (Triple("四只等着喂食的狗", "作者", "张洁"),)
    assert examples[2].triples == ()


@pytest.mark.parametrize("line, problem", [
    ('{"text": "a"}', "needs"), ('{"text": 3, "triples": []}', "must be a string"),
    ('{"text": "a", "triples": "x"}', '"triples" must be a list'),
    ('{"text": "a", "triples": [["s", "p"]]}', "[subject, predicate, object]"),
    ('{"text": "a", "triples": [["s", "", "o"]]}', "non-empty strings"),
    ('{"text": "a", "spo_list": [{"subject": "s", "predicate": "p"}]}', "non-empty strings"),
    ('{"text": "a", "spo_list": ["s"]}', "must be an object"),
    ('{"triples": [], "texts": []}', '"texts" is empty'), ("[1, 2]", "expected a JSON object"), ("{oops", "invalid"),
])
def test_malformed_lines_name_file_and_line(tmp_path, line, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "triples": []}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(LoadError) as err:
        load_triples(path)
    assert str(path) in str(err.value) and "line 2" in str(err.value) and problem in str(err.value)


def test_wrong_suffix_missing_and_empty(tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        load_triples(tmp_path / "none.jsonl")
    tsv = tmp_path / "a.tsv"
    tsv.write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(LoadError, match="use .jsonl"):
        load_triples(tsv)
    empty = tmp_path / "e.jsonl"
    empty.write_text('{"text": "", "triples": []}\n', encoding="utf-8")
    with pytest.raises(LoadError, match="no \\(text, triples\\) examples"):
        load_triples(empty)
