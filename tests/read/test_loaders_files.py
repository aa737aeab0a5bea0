"""File loaders on real files written by the tests: text, Markdown, HTML, PDF, DOCX, and their failures."""

from __future__ import annotations

import io
import os
from pathlib import Path

import docx
import pytest
from made_files import minimal_pdf
from pypdf import PdfReader, PdfWriter

from ragtune.errors import LoadError
from ragtune.read.loaders.docx import DocxLoader
from ragtune.read.loaders.html import HtmlLoader
from ragtune.read.loaders.pdf import PdfLoader
from ragtune.read.loaders.text import MarkdownLoader, TextLoader


def load_one(loader, path: Path):
    docs = loader.load(path, "doc-1")
    assert len(docs) == 1
    doc = docs[0]
    assert doc.id == "doc-1"
    assert doc.metadata == {"source": str(path)}
    return doc


# --- text and markdown -------------------------------------------------------------------------------


def test_text_file_gbk_title_is_stem(tmp_path):
    path = tmp_path / "笔记.txt"
    path.write_bytes("第一行\r\n这是一个测试。\r\n".encode("gbk"))
    doc = load_one(TextLoader(), path)
    assert doc.text == "第一行\n这是一个测试。"
    assert doc.title == "笔记"


def test_markdown_title_and_readable_text(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "---\nlayout: post\ntags: [a, b]\n---\n"
        "# Getting *Started*\n\n"
        "Read the [install guide](https://example.com/install) first.\n"
        "![diagram of the pipeline](img/pipe.png)\n\n"
        "## Usage\n\n"
        "Run `ragtune ask` with **care**; keep snake_case_names intact.\n\n"
        "```python\n# not a heading\nprint('hi')\n```\n"
        "> quoted line\n",
        encoding="utf-8",
    )
    doc = load_one(MarkdownLoader(), path)
    assert doc.title == "Getting Started"
    assert doc.text == (
        "Getting Started\n\n"
        "Read the install guide first.\n"
        "diagram of the pipeline\n\n"
        "Usage\n\n"
        "Run ragtune ask with care; keep snake_case_names intact.\n\n"
        "# not a heading\nprint('hi')\n"
        "quoted line"
    )
    assert "layout" not in doc.text and "https://" not in doc.text


def test_markdown_without_heading_uses_front_matter_title_or_stem(tmp_path):
    with_fm = tmp_path / "post.markdown"
    with_fm.write_text('---\ntitle: "From Front Matter"\n---\nBody text.\n', encoding="utf-8")
    assert load_one(MarkdownLoader(), with_fm).title == "From Front Matter"
    plain = tmp_path / "notes.md"
    plain.write_text("## Only a subheading\n\nBody.\n", encoding="utf-8")
    doc = load_one(MarkdownLoader(), plain)
    assert doc.title == "notes"
    assert doc.text == "Only a subheading\n\nBody."


def test_markdown_in_big5(tmp_path):
    path = tmp_path / "說明.md"
    path.write_bytes("# 使用說明\n\n這是一個測試。\n".encode("big5"))
    doc = load_one(MarkdownLoader(), path)
    assert doc.title == "使用說明"
    assert doc.text == "使用說明\n\n這是一個測試。"


# --- html ----------------------------------------------------------------------------------------------


def test_html_drops_scripts_and_chrome(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!DOCTYPE html><html><head><title>  The   Page </title><style>p { color: red }</style>"
        "<script>var secret = 1;</script></head><body>"
        "<header>Site header</header><nav><a href='/'>Home</a></nav>"
        "<h1>Main heading</h1><p>First   paragraph\n  spans lines with <b>bold</b> text.</p>"
        "<div>Second<br>line</div><ul><li>one</li><li>two</li></ul><!-- a comment -->"
        "<noscript>enable js</noscript><footer>Copyright</footer></body></html>",
        encoding="utf-8",
    )
    doc = load_one(HtmlLoader(), path)
    assert doc.title == "The Page"
    assert doc.text == ("Main heading\nFirst paragraph spans lines with bold text.\nSecond\nline\none\ntwo")
    for junk in ("secret", "color", "Site header", "Home", "Copyright", "enable js", "comment"):
        assert junk not in doc.text


def test_html_title_from_h1_and_meta_charset(tmp_path):
    path = tmp_path / "gbk.htm"
    html = '<html><head><meta charset="gb2312"></head><body><h1>标题</h1><p>简体中文内容。</p></body></html>'
    path.write_bytes(html.encode("gbk"))
    doc = load_one(HtmlLoader(), path)
    assert doc.title == "标题"
    assert doc.text == "标题\n简体中文内容。"


def test_html_meta_charset_latin(tmp_path):
    path = tmp_path / "de.html"
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
    path.write_bytes((html + "<body><p>Käse</p></body></html>").encode("latin-1"))
    doc = load_one(HtmlLoader(), path)
    assert doc.text == "Käse"
    assert doc.title == "de"


# --- pdf -----------------------------------------------------------------------------------------------


def test_pdf_text_extracted(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(minimal_pdf("Hello ragtune PDF"))
    doc = load_one(PdfLoader(), path)
    assert doc.text == "Hello ragtune PDF"
    assert doc.title == "report"


def test_pdf_title_from_metadata(tmp_path):
    path = tmp_path / "x.pdf"
    path.write_bytes(minimal_pdf("Body text", title="Quarterly Report"))
    doc = load_one(PdfLoader(), path)
    assert doc.title == "Quarterly Report"
    assert doc.text == "Body text"


def test_pdf_without_text_layer(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf("").replace(b"BT /F1 12 Tf 72 720 Td () Tj ET", b" " * 31))
    with pytest.raises(LoadError, match=r"no extractable text") as info:
        PdfLoader().load(path, "d")
    assert str(path) in str(info.value)


def encrypted_pdf(path: Path, user_password: str) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf("Locked text"))))
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as f:
        writer.write(f)


def test_encrypted_pdf(tmp_path):
    path = tmp_path / "locked.pdf"
    encrypted_pdf(path, "secret")
    with pytest.raises(LoadError, match=r"encrypted PDF$") as info:
        PdfLoader().load(path, "d")
    assert str(path) in str(info.value)


def test_pdf_encrypted_with_empty_user_password_still_loads(tmp_path):
    path = tmp_path / "restricted.pdf"
    encrypted_pdf(path, "")
    assert load_one(PdfLoader(), path).text == "Locked text"


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n" + os.urandom(64))
    with pytest.raises(LoadError, match=r"corrupt PDF: ") as info:
        PdfLoader().load(path, "d")
    assert str(info.value).startswith(str(path))


# --- docx ----------------------------------------------------------------------------------------------


def make_docx(path: Path, core_title: str = "") -> None:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_paragraph("Preface line")
    document.add_heading("Annual Summary", level=1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("Region", "Growth"), ("EMEA", "12%")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Closing remark.")
    document.save(path)


def test_docx_paragraphs_tables_and_heading_title(tmp_path):
    path = tmp_path / "summary.docx"
    make_docx(path)
    doc = load_one(DocxLoader(), path)
    assert doc.title == "Annual Summary"
    lines = ["Preface line", "Annual Summary", "Revenue grew in every region."]
    assert doc.text == "\n".join([*lines, "Region | Growth", "EMEA | 12%", "Closing remark."])


def test_docx_core_title_wins(tmp_path):
    path = tmp_path / "summary.docx"
    make_docx(path, core_title="Board Pack 2024")
    assert load_one(DocxLoader(), path).title == "Board Pack 2024"


def test_corrupt_docx(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 definitely not a zip archive" + os.urandom(32))
    with pytest.raises(LoadError, match=r"corrupt DOCX: ") as info:
        DocxLoader().load(path, "d")
    assert str(info.value).startswith(str(path))


# --- shared failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loader", "name"),
    [(TextLoader(), "a.txt"), (MarkdownLoader(), "a.md"), (HtmlLoader(), "a.html"), (PdfLoader(), "a.pdf"),
     (DocxLoader(), "a.docx")],
)  # fmt: skip
def test_empty_file(tmp_path, loader, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(LoadError, match="empty file") as info:
        loader.load(path, "d")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("loader", "name"), [(TextLoader(), "b.txt"), (MarkdownLoader(), "b.md"), (HtmlLoader(), "b.html")]
)
def test_binary_file(tmp_path, loader, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01\x02\x03" + os.urandom(256) + b"\x00" * 16)
    with pytest.raises(LoadError, match="looks like a binary file") as info:
        loader.load(path, "d")
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    for loader in (TextLoader(), HtmlLoader(), PdfLoader(), DocxLoader()):
        with pytest.raises(LoadError, match="cannot read"):
            loader.load(tmp_path / "nope", "d")
