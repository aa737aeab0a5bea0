"""The adapter folder format: ragtune.json written and read by one schema, every kind recorded, older folders
(a generator LoRA without a kind, retriever adapters recorded as kind "retriever") still recognised."""

from __future__ import annotations

import json

import pytest

from ragtune.adapters import (
    ENCODER,
    ENCODER_DIR,
    GENERATOR,
    JOINT,
    KINDS,
    META,
    PEFT_CONFIG,
    QUERY_ADAPTER,
    QUERY_ADAPTER_FILE,
    READER,
    READER_HEAD_FILE,
    REQUIRED_FILES,
    AdapterMeta,
    inspect_adapter,
    read_meta,
    update_meta,
    write_meta,
)
from ragtune.errors import RagtuneError


def folder_of(tmp_path, kind: str):
    """A folder holding the files a `kind` adapter needs (empty stand-ins: no model reads them here)."""
    folder = tmp_path / kind
    folder.mkdir()
    for name in REQUIRED_FILES[kind]:
        if name.endswith("/"):
            (folder / name).mkdir()
        else:
            (folder / name).write_text("{}")
    return folder


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_round_trips_with_its_record(tmp_path, kind):
    folder = folder_of(tmp_path, kind)
    record = {"history": [{"step": 1, "loss": 0.5}], "config": {"train": {"lr": 0.001}}, "heldout": None}
    write_meta(folder, AdapterMeta(kind=kind, base_model="qwen2.5-0.5b-instruct", **record))
    written = json.loads((folder / META).read_text())
    assert written == {"kind": kind, "base_model": "qwen2.5-0.5b-instruct", **record}
    assert read_meta(folder).model_dump(exclude_unset=True) == written
    info = inspect_adapter(folder)
    assert info.kind == kind and info.meta == written
    assert not list(folder.glob(".*.tmp"))


def test_a_generator_folder_without_a_kind_is_still_a_generator(tmp_path):
    folder = tmp_path / "old-lora"
    folder.mkdir()
    (folder / PEFT_CONFIG).write_text("{}")
    (folder / META).write_text(json.dumps({"base_model": "qwen2.5-0.5b-instruct", "step": 6}))
    info = inspect_adapter(folder)
    assert info.kind == GENERATOR and info.meta == {"base_model": "qwen2.5-0.5b-instruct", "step": 6}
    (folder / META).unlink()
    assert inspect_adapter(folder).kind == GENERATOR and inspect_adapter(folder).meta == {}


@pytest.mark.parametrize("kind", [QUERY_ADAPTER, ENCODER])
def test_retriever_folders_recorded_as_kind_retriever_still_load(tmp_path, kind):
    folder = folder_of(tmp_path, kind)
    old = {"kind": "retriever", "retriever": kind, "embedder": "bge-small-zh-v1.5", "reembed_required": kind == ENCODER}
    (folder / META).write_text(json.dumps(old))
    info = inspect_adapter(folder)
    assert info.kind == kind and info.is_retriever and info.meta == old


def test_missing_files_unknown_kinds_and_unreadable_records_are_one_line_errors(tmp_path):
    for kind, missing in ((QUERY_ADAPTER, QUERY_ADAPTER_FILE), (ENCODER, f"its {ENCODER_DIR}/ folder"),
                          (JOINT, QUERY_ADAPTER_FILE), (READER, READER_HEAD_FILE)):
        folder = tmp_path / f"bare-{kind}"
        folder.mkdir()
        (folder / META).write_text(json.dumps({"kind": kind}))
        with pytest.raises(RagtuneError, match=f"adapter without {missing}"):
            inspect_adapter(folder)
    odd = folder_of(tmp_path, GENERATOR)
    (odd / META).write_text(json.dumps({"kind": "retriever", "retriever": "bm25"}))
    with pytest.raises(RagtuneError, match="unknown retriever adapter 'bm25'"):
        inspect_adapter(odd)
    (odd / META).write_text(json.dumps({"kind": "tokenizer"}))
    with pytest.raises(RagtuneError, match="unknown adapter kind 'tokenizer'"):
        inspect_adapter(odd)
    (odd / META).write_text("[1, 2")
    with pytest.raises(RagtuneError, match="unreadable"):
        inspect_adapter(odd)
    with pytest.raises(ValueError, match="adapter kind"):
        write_meta(odd, AdapterMeta(base_model="x"))


def test_update_meta_rewrites_only_the_keys_given(tmp_path):
    folder = folder_of(tmp_path, READER)
    write_meta(folder, AdapterMeta(kind=READER, layers=4, retrieval_fit={"weight": 1.0}, steps=10))
    update_meta(folder, retrieval_fit={"weight": 4.0})
    assert json.loads((folder / META).read_text()) == {"kind": READER, "layers": 4,
                                                       "retrieval_fit": {"weight": 4.0}, "steps": 10}
