"""Hostile and broken input files: each is read or becomes that file's one-line LoadError, within seconds."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import time
from pathlib import Path

import docx
import pytest
from made_files import docx_with_body

from ragtune.config import ChunkingConfig, ReadConfig
from ragtune.errors import LoadError
from ragtune.index.backends import open_index
from ragtune.index.store import looks_like_index
from ragtune.read.chunking import MAX_CHARS_PER_UNIT, chunk_document
from ragtune.read.ingest import discover, load_source


def finishes_within(seconds: float, work):
    """(`work()`'s result, seconds it took), run in a forked child that is killed if it takes longer than
    `seconds`: a regex or parser stuck in C holds the GIL, so a thread could not be abandoned."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def run():
        start = time.perf_counter()
        try:
            outcome = ("value", work())
        except LoadError as exc:
            outcome = ("load_error", (exc.path, exc.problem))
        except BaseException as exc:  # noqa: BLE001 (handed to the test as text)
            outcome = ("other", f"{type(exc).__name__}: {exc}")
        sender.send((outcome, time.perf_counter() - start))

    child = context.Process(target=run, daemon=True)
    child.start()
    try:
        assert receiver.poll(seconds), f"still running after {seconds} s"
        (kind, value), elapsed = receiver.recv()
    finally:
        child.kill()
        child.join()
    if kind == "load_error":
        raise LoadError(*value)
    assert kind == "value", value
    return value, elapsed


def load_error(path: Path, seconds: float = 20, **limits) -> LoadError:
    """The LoadError reading `path` ends in (nothing else may be raised), within `seconds`."""
    options = {"limits": ReadConfig(**limits)} if limits else {}
    with pytest.raises(LoadError) as info:
        finishes_within(seconds, lambda: load_source(path, path.name, **options))
    assert "\n" not in str(info.value)
    return info.value


def docx_bytes(body_xml: str = "", core_title: str = "") -> bytes:
    """A real python-docx package whose <w:body> starts with `body_xml`."""
    document = docx.Document()
    document.core_properties.title = core_title
    saved = io.BytesIO()
    document.save(saved)
    return docx_with_body(saved.getvalue(), body_xml)


def paragraph(text: str, style: str = "") -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}<w:r><w:t>{text}</w:t></w:r></w:p>"


def mark_encrypted(package: bytes) -> bytes:
    """Set the "encrypted" flag of every member, as a password-protected zip has it."""
    data = bytearray(package)
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at != -1:
            data[at + flags_at] |= 0x1
            at = data.find(signature, at + 4)
    return bytes(data)


# --- what a walk takes ------------------------------------------------------------------------------------


def test_walk_skips_index_folders_fifos_and_device_links(tmp_path):
    docs = tmp_path / "docs"
    (docs / "index" / "snap-000001").mkdir(parents=True)
    (docs / "index" / "snap-000001" / "manifest.json").write_text("{}")
    (docs / "index" / "snap-000001" / "passages.jsonl").write_text('{"id": "x", "text": "copy"}\n')
    (docs / "index" / "CURRENT").write_text("snap-000001")
    (docs / "a.txt").write_text("real text", encoding="utf-8")
    os.mkfifo(docs / "pipe.txt")
    (docs / "zero.txt").symlink_to("/dev/zero")
    (docs / "loop.txt").symlink_to(docs / "loop.txt")
    (docs / "again").symlink_to(docs)  # a link back up: not followed, so no loop
    found, errors = discover([docs], is_index=looks_like_index)
    assert [file.name for file, _ in found] == ["a.txt"]
    problems = {Path(e.path).name: e.problem for e in errors}
    assert problems["pipe.txt"] == problems["zero.txt"] == "not a regular file"
    assert problems["loop.txt"].startswith("cannot read")
    found, errors = discover([docs / "index"], is_index=looks_like_index)
    assert not found and errors[0].problem == "is a ragtune index folder, not documents"


def test_a_file_named_twice_is_read_once(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("one", encoding="utf-8")
    (docs / "b.txt").write_text("two", encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(docs / "b.txt")
    found, errors = discover([docs / "a.txt", docs, tmp_path / "docs" / ".." / "docs" / "a.txt", tmp_path / "link.txt"])
    assert not errors
    assert [(file.name, doc_id) for file, doc_id in found] == [("a.txt", "a.txt"), ("b.txt", "docs/b.txt")]


def test_fifo_and_device_are_refused_unread(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    for name in ("pipe.txt", "zero.txt"):
        assert load_error(tmp_path / name, seconds=10).problem == "not a regular file"


# --- any failure is that file's one error ------------------------------------------------------------------


def test_malformed_squad_says_what_is_wrong(tmp_path):
    cases = {
        "null.json": ({"data": [{"title": "T", "paragraphs": None}]}, '"paragraphs" must be an array, not null'),
        "ctx.json": ({"data": [{"paragraphs": [{"context": None}]}]}, '"context" must be a string, not null'),
        "para.json": ({"data": [{"paragraphs": ["text"]}]}, "paragraph 0: must be an object, not string"),
        "title.json": ({"data": [{"title": {}, "paragraphs": []}]}, '"title" must be a string or number'),
        "id.json": ({"data": [{"paragraphs": [{"id": [1], "context": "c"}]}]}, '"id" must be a string or number'),
    }
    for name, (content, problem) in cases.items():
        (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
        assert problem in load_error(tmp_path / name).problem, name


def test_malformed_jsonl_says_what_is_wrong(tmp_path):
    path = tmp_path / "corpus.jsonl"
    for line, problem in [('{"_id": {"a": 1}, "text": "t"}', '"id" must be a string or number, not object'),
                          ('{"id": "1", "text": ["t"]}', '"text" must be a string, not array'),
                          ('{"id": "1", "text": "t", "title": [1]}', '"title" must be a string, not array')]:
        path.write_text(line + "\n", encoding="utf-8")
        assert load_error(path).problem == f"line 1: {problem}"


def test_encrypted_docx_is_one_error(tmp_path):
    locked = tmp_path / "locked.docx"
    locked.write_bytes(mark_encrypted(docx_bytes(paragraph("secret"))))
    assert load_error(locked).problem == "encrypted DOCX"
    ole = tmp_path / "protected.docx"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096))
    assert "password-protected" in load_error(ole).problem


def test_a_loader_crash_becomes_the_files_error(tmp_path, monkeypatch):
    from ragtune.read.loaders.text import TextLoader

    def crash(self, path, doc_id):
        raise ZeroDivisionError("division by zero\nin a parser")

    monkeypatch.setattr(TextLoader, "load", crash)
    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    assert load_error(tmp_path / "a.txt").problem == "cannot read TXT: ZeroDivisionError: division by zero in a parser"


def test_one_bad_file_does_not_abort_the_batch(tmp_path, pipeline_factory):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("A good document about rivers.", encoding="utf-8")
    (docs / "null.json").write_text('{"data": [{"paragraphs": null}]}', encoding="utf-8")
    (docs / "locked.docx").write_bytes(mark_encrypted(docx_bytes(paragraph("secret"))))
    (docs / "deep.json").write_text('{"data": [' + "[" * 100_000 + "]" * 100_000 + "]}", encoding="utf-8")
    (docs / "scripts.html").write_text("<html><script>var a = 1;</script><style>p {}</style></html>")
    (docs / "bad\nname.json").write_text("{not json", encoding="utf-8")
    pipeline = pipeline_factory(str(docs / "index"))  # the index lives inside the folder it reads
    report = pipeline.read([docs])
    assert (report.files_new, report.passages_total) == (1, 1)
    problems = {e.path.rsplit("/", 1)[-1]: e.problem for e in report.errors}
    assert set(problems) == {"null.json", "locked.docx", "deep.json", "scripts.html", "bad\\nname.json"}
    assert problems["scripts.html"] == "no text found"
    assert all("\n" not in str(e) for e in report.errors)
    again = pipeline.read([docs])
    assert (again.files_new, again.files_unchanged, again.passages_total) == (0, 1, 1)
    assert set(open_index(pipeline.index_dir).sources) == {str((docs / "good.txt").resolve())}


# --- limits ------------------------------------------------------------------------------------------------


def test_file_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 300_000)  # 1.5 MB
    assert load_error(path, max_file_mb=1).problem == "larger than 1 MB (read.max_file_mb)"
    assert load_source(path, "big.txt", limits=ReadConfig(max_file_mb=2)).documents


def test_docx_of_two_million_empty_paragraphs_is_refused_at_once(tmp_path):
    path = tmp_path / "padded.docx"
    path.write_bytes(docx_bytes("<w:p/>" * 2_000_000 + paragraph("end")))
    error = load_error(path, seconds=5)
    assert "compressed more than 200:1 (read.max_zip_ratio)" in error.problem


def test_docx_of_many_empty_paragraphs_reads_in_linear_time(tmp_path):
    path = tmp_path / "padded.docx"
    path.write_bytes(docx_bytes("<w:p/>" * 200_000 + paragraph("Chapter One", "Heading1") + paragraph("Body.")))
    source, seconds = finishes_within(30, lambda: load_source(path, "d", limits=ReadConfig(max_zip_ratio=1e6)))
    assert seconds < 10
    assert (source.documents[0].title, source.documents[0].text) == ("Chapter One", "Chapter One\nBody.")


def test_zip_bomb_docx_is_refused(tmp_path):
    path = tmp_path / "bomb.docx"
    path.write_bytes(docx_bytes(paragraph("x" * 5_000_000)))
    assert "read.max_unzipped_mb" in load_error(path, max_unzipped_mb=2, max_zip_ratio=1e6).problem
    assert "read.max_zip_ratio" in load_error(path).problem


def test_html_nested_100000_deep_is_refused_at_once(tmp_path):
    path = tmp_path / "deep.html"
    path.write_text("<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>")
    assert load_error(path, seconds=5).problem == "nested deeper than 256 levels (read.max_depth)"
    old_style = tmp_path / "old.html"  # html.parser nests each unclosed <p> in the last: not depth
    old_style.write_text("<body>" + "".join(f"<p>Paragraph {i}." for i in range(1000)))
    assert load_source(old_style, "d").documents[0].text.splitlines()[-1] == "Paragraph 999."


def test_deep_html_within_the_limit_reads_in_linear_time(tmp_path):
    path = tmp_path / "deep.html"
    path.write_text("<p>intro" + "<div>" * 30_000 + "deep text" + "</div>" * 30_000 + "<p>end")
    source, seconds = finishes_within(60, lambda: load_source(path, "d", limits=ReadConfig(max_depth=50_000)))
    assert seconds < 10
    assert source.documents[0].text == "intro\ndeep text\nend"


def test_a_run_of_unclosed_tags_parses_in_linear_time(tmp_path):
    """html.parser rescans the rest of the page at each unclosed '<a ' (50,000 of them: minutes); lxml does not."""
    path = tmp_path / "unclosed.html"
    path.write_text("<p>before</p>" + "<a " * 50_000)
    outcome, seconds = finishes_within(30, lambda: _source_or_error(path))
    assert seconds < 5


def _source_or_error(path: Path):
    try:
        return load_source(path, "d")
    except LoadError as exc:
        return exc


def test_deep_json_is_refused(tmp_path):
    squad = tmp_path / "deep.json"
    nested = "[" * 300 + "]" * 300
    squad.write_text('{"data": [{"paragraphs": [{"context": "c", "extra": ' + nested + "}]}]}")
    assert load_error(squad).problem == "nested deeper than 256 levels (read.max_depth)"
    squad.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested" in load_error(squad).problem
    corpus = tmp_path / "deep.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    corpus.write_text('{"id": "1", "text": "ok"}\n{"id": "2", "text": "t", "x": ' + deep + "}\n")
    assert load_error(corpus).problem.startswith("line 2: ")


def test_passages_per_file_limit(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"Sentence number {i} is here." for i in range(200)), encoding="utf-8")
    chunking = ChunkingConfig(chunk_size=20, chunk_overlap=0)
    with pytest.raises(LoadError, match=r"more than 10 passages \(read.max_passages_per_file\)"):
        load_source(path, "d", limits=ReadConfig(max_passages_per_file=10), chunking=chunking)
    assert load_source(path, "d", limits=ReadConfig(max_passages_per_file=1000), chunking=chunking).documents


@pytest.mark.parametrize("line", [
    "**x " * 100_000, "~~x " * 100_000, "[a " * 100_000, "![a](" * 100_000, "<!--" * 100_000,
    "# x" + " " * 400_000 + "y", "---\ntitle: x" + " " * 400_000 + "y\n---\nBody.",
], ids=["bold", "strike", "brackets", "images", "comments", "heading-spaces", "front-matter-spaces"])
def test_long_markdown_lines_read_in_linear_time(tmp_path, line):
    path = tmp_path / "one-line.md"
    path.write_text(line, encoding="utf-8")
    _, seconds = finishes_within(20, lambda: load_source(path, "d"))
    assert seconds < 5


def test_a_run_of_abbreviations_chunks_in_linear_time(tmp_path):
    path = tmp_path / "initials.txt"
    path.write_text("A. " * 300_000, encoding="utf-8")
    source, seconds = finishes_within(30, lambda: load_source(path, "d"))
    passages, chunk_seconds = finishes_within(30, lambda: chunk_document(source.documents[0], 400, 48))
    assert seconds + chunk_seconds < 10 and len(passages) > 100


# --- text that reaches the index -----------------------------------------------------------------------------


def test_markup_without_text_is_no_text(tmp_path):
    html = tmp_path / "app.html"
    html.write_text("<html><head><title>App</title><script>boot()</script></head><body><div></div></body></html>")
    assert load_error(html).problem == "no text found"
    markdown = tmp_path / "empty.md"
    markdown.write_text("<!-- nothing but a comment -->\n\n---\n", encoding="utf-8")
    assert load_error(markdown).problem == "no text found"


def test_control_characters_are_stripped_from_text_and_titles(tmp_path):
    body = "Alpha\x01beta \x1b[31mred\x1b[0m\tdone.\r\nSecond\x0cline\x85third\x9b line.\rLast" + " filler" * 200
    path = tmp_path / "ctl\x07name\nx.txt"
    path.write_bytes(body.encode("utf-8"))
    doc = load_source(path, "d").documents[0]
    assert doc.text.startswith("Alphabeta red\tdone.\nSecond\nline\nthird line.\nLast filler")
    assert doc.title == "ctlname x"
    squad = tmp_path / "s.json"
    squad.write_text(json.dumps({"data": [{"title": "Ti\x00tle\n2", "paragraphs": [{"context": "a\x01b\x7fc"}]}]}))
    doc = load_source(squad, "s").documents[0]
    assert (doc.title, doc.text) == ("Title 2", "abc")


def test_odd_files_read_or_fail_quickly(tmp_path):
    (tmp_path / "zero.pdf").write_bytes(b"")
    (tmp_path / "fake.pdf").write_bytes(b"<html>not a pdf</html>" * 100)
    assert load_error(tmp_path / "zero.pdf", seconds=5).problem == "empty file"
    assert load_error(tmp_path / "fake.pdf", seconds=5).problem.startswith("corrupt PDF")
    line = tmp_path / "line.txt"
    line.write_bytes(b"x" * 10_000_000)
    source, seconds = finishes_within(30, lambda: load_source(line, "line.txt"))
    assert seconds < 10 and len(source.documents[0].text) == 10_000_000
    passages = chunk_document(source.documents[0], 400, 48)  # bounded, or the embedder runs out of memory
    assert max(len(p.text) for p in passages) <= 400 * MAX_CHARS_PER_UNIT
    assert sum(len(p.text) for p in passages) == 10_000_000
    newline = tmp_path / "two\nlines.md"
    newline.write_text("# Title\n\nBody.", encoding="utf-8")
    assert load_source(newline, "two\nlines.md").documents[0].text == "Title\n\nBody."
