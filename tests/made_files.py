"""Small real files tests build byte by byte (a PDF with a correct xref table, a DOCX body)."""

from __future__ import annotations

import io
import zipfile


def pdf_file(objects: list[bytes], trailer: bytes = b"/Root 1 0 R") -> bytes:
    """A PDF with a correct xref table around `objects` (numbered from 1) and `trailer`'s entries."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def minimal_pdf(text: str, title: str | None = None) -> bytes:
    """A valid one-page PDF whose content stream draws `text` in Helvetica, with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title is None:
        return pdf_file(objects)
    objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
    return pdf_file(objects, b"/Root 1 0 R /Info %d 0 R" % len(objects))


def docx_with_body(package: bytes, body_xml: str) -> bytes:
    """A DOCX package (as python-docx saves one) whose <w:body> starts with `body_xml`."""
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == "word/document.xml":
                xml = data.decode("utf-8")
                start = xml.index("<w:body>") + len("<w:body>")
                data = (xml[:start] + body_xml + xml[start:]).encode("utf-8")
            target.writestr(member, data)
    return out.getvalue()
