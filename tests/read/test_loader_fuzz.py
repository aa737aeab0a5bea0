"""Fuzzing every loader through `load_source`: whatever a file holds, the answer is documents or a LoadError.

Bounded to a few seconds per test so it runs by default (RAGTUNE_FUZZ_EXAMPLES=1000 for a longer hunt);
no example database is written.
"""

from __future__ import annotations

import io
import json
import os
import re
from datetime import timedelta

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from made_files import docx_with_body, minimal_pdf

from ragtune.errors import LoadError
from ragtune.read.ingest import load_source
from ragtune.read.loaders import LOADERS

FUZZ = settings(max_examples=int(os.environ.get("RAGTUNE_FUZZ_EXAMPLES", "40")), deadline=timedelta(seconds=10),
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what may not reach the index (tab and newline may)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def load_or_error(folder, name: str, data: bytes) -> None:
    """Write `data` as `name` and load it: documents with clean text, or one one-line LoadError."""
    path = folder / name
    path.write_bytes(data)
    try:
        source = load_source(path, name)
    except LoadError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    assert source.documents
    for doc in source.documents:
        assert doc.text.strip() and not _CONTROL.search(doc.text) and not _CONTROL.search(doc.title)
        assert "\n" not in doc.title


# --- any bytes, any suffix -----------------------------------------------------------------------------------


@FUZZ
@given(suffix=st.sampled_from(sorted(LOADERS)), data=st.binary(max_size=2048))
def test_random_bytes(folder, suffix, data):
    load_or_error(folder, "random" + suffix, data)


@FUZZ
@given(suffix=st.sampled_from(sorted(LOADERS)), text=st.text(max_size=500))
def test_random_text(folder, suffix, text):
    load_or_error(folder, "text" + suffix, text.encode("utf-8", "surrogatepass"))


# --- JSON shapes: SQuAD, jsonl, BEIR ------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
maybe = lambda strategy: strategy | json_values  # noqa: E731 (mostly the right shape, sometimes anything)
paragraphs = st.lists(maybe(st.fixed_dictionaries(
    {"context": maybe(st.text(max_size=80))},
    optional={"id": maybe(st.text(max_size=8)), "qas": json_values})), max_size=4)
squad = st.fixed_dictionaries({"data": maybe(st.lists(maybe(st.fixed_dictionaries(
    {"paragraphs": maybe(paragraphs)}, optional={"title": maybe(st.text(max_size=20))})), max_size=3))})
records = st.fixed_dictionaries({}, optional={
    "id": maybe(st.text(max_size=8)), "_id": maybe(st.integers()), "text": maybe(st.text(max_size=80)),
    "contents": json_values, "title": maybe(st.text(max_size=20))})


@FUZZ
@given(document=maybe(squad))
def test_squad_shapes(folder, document):
    load_or_error(folder, "set.json", json.dumps(document).encode())


@FUZZ
@given(lines=st.lists(maybe(records), max_size=5), name=st.sampled_from(["docs.jsonl", "corpus.jsonl"]))
def test_jsonl_and_beir_shapes(folder, lines, name):
    load_or_error(folder, name, "\n".join(json.dumps(line) for line in lines).encode())


@FUZZ
@given(depth=st.integers(1, 5000), opener=st.sampled_from(["[", '{"a":']))
def test_deeply_nested_json(folder, depth, opener):
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "1" + closer * depth
    load_or_error(folder, "deep.json", ('{"data": [{"paragraphs": [{"context": "c", "x": ' + nested + "}]}]}").encode())
    load_or_error(folder, "deep.jsonl", ('{"id": "1", "text": "t", "x": ' + nested + "}").encode())


# --- HTML trees ----------------------------------------------------------------------------------------------

TAGS = ["div", "p", "span", "pre", "br", "script", "style", "title", "h1", "li", "table", "td", "a", "rt",
        "template", "nav"]
html_nodes = st.recursive(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20),
    lambda inner: st.tuples(st.sampled_from(TAGS), st.lists(inner, max_size=4), st.booleans()),
    max_leaves=30,
)


def render(node) -> str:
    if isinstance(node, str):
        return node
    tag, children, closed = node
    return f"<{tag}>" + "".join(render(child) for child in children) + (f"</{tag}>" if closed else "")


@FUZZ
@given(nodes=st.lists(html_nodes, max_size=5), depth=st.integers(0, 2000))
def test_html_trees(folder, nodes, depth):
    html = "<div>" * depth + "".join(render(node) for node in nodes) + "</div>" * depth
    load_or_error(folder, "page.html", html.encode("utf-8"))


# --- DOCX packages -------------------------------------------------------------------------------------------

W_TAGS = ["w:p", "w:r", "w:t", "w:tbl", "w:tr", "w:tc", "w:pPr", "w:pStyle", "w:tcPr", "w:vMerge", "w:gridSpan",
          "w:hyperlink", "w:tab", "w:br", "w:sdt", "w:trPr", "w:gridBefore"]
w_attrs = st.dictionaries(st.sampled_from(["w:val", "w:id", "r:id"]),
                          st.sampled_from(["", "1", "0", "-3", "continue", "restart", "Heading1", "Title", "x"]),
                          max_size=2)
w_nodes = st.recursive(
    st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=10),
    lambda inner: st.tuples(st.sampled_from(W_TAGS), w_attrs, st.lists(inner, max_size=4)),
    max_leaves=25,
)


def render_xml(node) -> str:
    if isinstance(node, str):
        return node.replace("&", "&amp;").replace("<", "&lt;")
    tag, attrs, children = node
    attributes = "".join(f' {name}="{value}"' for name, value in attrs.items())
    return f"<{tag}{attributes}>" + "".join(render_xml(child) for child in children) + f"</{tag}>"


@pytest.fixture(scope="module")
def docx_template():
    saved = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Template text.")
    document.save(saved)
    return saved.getvalue()


@FUZZ
@given(nodes=st.lists(w_nodes, max_size=6))
def test_docx_bodies(folder, docx_template, nodes):
    load_or_error(folder, "doc.docx", docx_with_body(docx_template, "".join(render_xml(node) for node in nodes)))


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8))
def test_docx_byte_flips(folder, docx_template, flips):
    data = bytearray(docx_template)
    for at, value in flips:
        data[at % len(data)] = value
    load_or_error(folder, "flipped.docx", bytes(data))


# --- PDF files -----------------------------------------------------------------------------------------------


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**4), st.integers(0, 255)), max_size=8),
       cut=st.integers(0, 10**4))
def test_pdf_mutations(folder, flips, cut):
    data = bytearray(minimal_pdf("Fuzzed text"))
    for at, value in flips:
        data[at % len(data)] = value
    load_or_error(folder, "doc.pdf", bytes(data[: max(cut, len(data) // 2)]))
