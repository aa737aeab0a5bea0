"""Encoding detection: real bytes in the encodings users' files come in must round-trip exactly."""

from __future__ import annotations

import codecs
import os

import pytest

from ragtune.errors import LoadError
from ragtune.read.encoding import decode_bytes, read_text_file

SIMPLIFIED = "你好，世界。这是一个简体中文的测试文件，用来检查编码识别。"
TRADITIONAL = "你好，世界。這是一個繁體中文的測試文件，用來檢查編碼識別。"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (SIMPLIFIED, "gbk"),
        ("中文", "gbk"),
        ("简体字", "gbk"),
        ("你好，世界", "gbk"),
        ("第一章 总则\n第一条 为了规范管理，制定本办法。\n", "gb18030"),
        (TRADITIONAL, "big5"),
        ("繁體", "big5"),
        ("我們", "big5"),
        ("中文", "big5"),
        ("台灣的天氣很好。\n", "big5"),
    ],
)
def test_short_chinese_files_are_not_confused(tmp_path, text, encoding):
    path = tmp_path / "zh.txt"
    path.write_bytes(text.encode(encoding))
    assert read_text_file(path) == text


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_bom_files_round_trip_without_the_bom(tmp_path, bom, encoding):
    path = tmp_path / "bom.txt"
    path.write_bytes(bom + SIMPLIFIED.encode(encoding))
    assert read_text_file(path) == SIMPLIFIED


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_bomless_utf16_is_recognised_by_its_nul_bytes(encoding):
    text = "Release notes 发布说明\nVersion 2.0: faster search.\n"
    assert decode_bytes(text.encode(encoding), "notes.txt") == text


def test_plain_utf8_and_ascii():
    assert decode_bytes("naïve café 中文 ✓".encode(), "a.txt") == "naïve café 中文 ✓"
    assert decode_bytes(b"just ascii\n", "a.txt") == "just ascii\n"


def test_declared_encoding_hint_is_used_when_utf8_fails():
    text = "Grüße aus München"
    assert decode_bytes(text.encode("cp1252"), "a.html", hint="iso-8859-1") == text
    assert decode_bytes("简体".encode("gbk"), "a.html", hint="gb2312") == "简体"


def test_longer_western_text_falls_back_to_detector():
    text = "Grüße aus München, schöne Straße und Käse für alle Bären."
    assert decode_bytes(text.encode("cp1252"), "de.txt") == text


@pytest.mark.parametrize(
    "data", [b"", b"   \n\t\r\n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")]
)
def test_empty_files(tmp_path, data):
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    with pytest.raises(LoadError, match="empty file") as info:
        read_text_file(path)
    assert str(path) in str(info.value)


def test_binary_with_nul_bytes(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(os.urandom(512) + b"\x00\x01\x00\xff" * 8)
    with pytest.raises(LoadError, match="looks like a binary file") as info:
        read_text_file(path)
    assert str(info.value).startswith(str(path))


def test_binary_control_characters_without_nul():
    with pytest.raises(LoadError, match="binary"):
        decode_bytes(bytes(range(1, 32)) * 4 + b"some text", "ctl.bin")


def test_unreadable_path_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="cannot read") as info:
        read_text_file(tmp_path / "missing.txt")
    assert "missing.txt" in str(info.value)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("café crème brûlée", "cp1252"),  # was read as cp1250: "café crčme brűlée"
        ("Größe", "cp1252"),
        ("über", "cp1252"),
        ("El niño está aquí, ¿verdad? ¡Sí! 20°C, 5€", "cp1252"),
        ("“Smart quotes” — and… more", "cp1252"),
        ("Zażółć gęślą jaźń", "cp1250"),  # still Central European where the bytes say so
        ("Příliš žluťoučký kůň úpěl ďábelské ódy", "cp1250"),
    ],
)
def test_short_western_text_is_windows_1252(text, encoding):
    assert decode_bytes(text.encode(encoding), "short.txt") == text
