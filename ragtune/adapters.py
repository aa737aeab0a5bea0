"""The `--adapter` folder format, written and read here only: a generator LoRA, a query-side retriever adapter,
a new encoder, a jointly trained LoRA + query adapter, or a span reader.

Every folder holds `ragtune.json` (`AdapterMeta`: its `kind` and the record of the run that made it) beside the
kind's own files. Deciding what a folder is needs only those small files (no model is loaded), so ask and eval
can refuse early. Several folders combine when each tunes a different side (one generator side, one retriever
side). Folders written before every kind was recorded still load: a generator LoRA without a `kind`, and retriever
adapters recorded as `kind: "retriever"` with `retriever` naming which.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ragtune.errors import RagtuneError, first_line

#: the record every adapter folder holds
META = "ragtune.json"
#: a PEFT LoRA for the generator (the file PEFT writes)
GENERATOR = "generator"
#: a residual linear map applied to the frozen embedder's query vectors (passage vectors unchanged)
QUERY_ADAPTER = "query-adapter"
#: a re-trained sentence-transformers encoder in `encoder/`: the corpus must be re-embedded with it
ENCODER = "encoder"
#: `ragtune train joint`: a PEFT LoRA and a query adapter trained together, in one folder
JOINT = "joint"
#: `ragtune train reader`: a span head and a LoRA on the generator's hidden states (answer mode "reader")
READER = "reader"
KINDS = (GENERATOR, QUERY_ADAPTER, ENCODER, JOINT, READER)
#: the `kind` retriever adapters were recorded with before each had its own (`retriever` names which)
LEGACY_RETRIEVER = "retriever"

#: what PEFT's save_pretrained writes, and what PeftModel.from_pretrained needs
PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
PEFT_FILES = (PEFT_CONFIG, PEFT_WEIGHTS)
QUERY_ADAPTER_FILE = "query_adapter.safetensors"
READER_HEAD_FILE = "reader_head.safetensors"
ENCODER_DIR = "encoder"

#: the files (a trailing "/" marks a folder) a folder of each kind must hold besides ragtune.json
REQUIRED_FILES = {
    GENERATOR: (PEFT_CONFIG,),
    QUERY_ADAPTER: (QUERY_ADAPTER_FILE,),
    ENCODER: (ENCODER_DIR + "/",),
    JOINT: (QUERY_ADAPTER_FILE, PEFT_CONFIG),
    READER: (READER_HEAD_FILE, PEFT_CONFIG),
}


class AdapterMeta(BaseModel):
    """ragtune.json: the adapter's kind, what it must be used with, and the record of the run that made it.

    The fields ragtune reads back are typed; each trainer's record (history, data, config, timings) rides along
    as further keys, written and read back unchanged."""

    model_config = ConfigDict(extra="allow")

    #: one of KINDS; None only in generator folders written before kinds were recorded
    kind: str | None = None
    #: the generator a LoRA (generator, joint, reader) was trained on: it fits only that one
    base_model: str | None = None
    #: the embedder a retriever side (query adapter, encoder, joint) was trained against
    embedder: str | None = None
    #: how the retriever side applies (query adapter, encoder); in legacy folders, the kind itself
    retriever: str | None = None
    #: an encoder's folder inside the adapter, and whether the corpus must be re-embedded with it
    encoder: str | None = None
    reembed_required: bool | None = None
    #: a reader's decoder layers (the first ones kept)
    layers: int | None = None
    #: the dense/BM25 fusion weight fitted on held-out questions (query adapters)
    fusion: dict[str, Any] | None = None
    #: a reader's retrieval-prior weight fitted on held-out questions
    retrieval_fit: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """What ragtune.json holds: the fields set, in the order given (typed fields first)."""
        return self.model_dump(mode="json", exclude_unset=True)


def write_meta(folder: Path, meta: AdapterMeta) -> None:
    """`folder/ragtune.json`, replaced atomically (a reader never sees half of it)."""
    if meta.kind not in KINDS:
        raise ValueError(f"adapter kind {meta.kind!r} is not one of {KINDS}")
    tmp = folder / f".{META}.tmp"
    tmp.write_text(json.dumps(meta.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, folder / META)


def read_meta(folder: Path) -> AdapterMeta | None:
    """`folder/ragtune.json` parsed, or None when the folder has none."""
    path = Path(folder) / META
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        return AdapterMeta.model_validate(raw)
    except (OSError, ValueError, ValidationError) as exc:
        raise RagtuneError(f"{path}: unreadable ({first_line(exc)})") from exc


def update_meta(folder: Path, **changes: Any) -> AdapterMeta:
    """Rewrite some keys of an existing ragtune.json (e.g. a refitted weight), keeping the rest as written."""
    meta = read_meta(folder)
    if meta is None:
        raise RagtuneError(f"{folder}: no {META} to update")
    updated = AdapterMeta.model_validate({**meta.as_dict(), **changes})
    write_meta(Path(folder), updated)
    return updated


def is_peft_folder(folder: Path) -> bool:
    return (Path(folder) / PEFT_CONFIG).is_file()


def peft_base_model(folder: Path) -> str | None:
    """The base model PEFT recorded in adapter_config.json (`base_model_name_or_path`)."""
    return json.loads((Path(folder) / PEFT_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")


@dataclass
class AdapterInfo:
    folder: Path
    kind: str
    #: ragtune.json as written ({} for a PEFT folder without one)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_retriever(self) -> bool:
        return self.kind in (QUERY_ADAPTER, ENCODER, JOINT)

    @property
    def is_generator(self) -> bool:
        return self.kind in (GENERATOR, JOINT)

    @property
    def retriever_kind(self) -> str | None:
        """How the retriever side applies: a query adapter (also a joint folder's), an encoder, or None."""
        return QUERY_ADAPTER if self.kind == JOINT else self.kind if self.is_retriever else None

    @property
    def encoder_path(self) -> Path:
        return (self.folder / ENCODER_DIR).resolve()


def inspect_adapter(folder: str | Path) -> AdapterInfo:
    """Read ragtune.json's `kind`, else recognise a PEFT folder (generator adapters written before kinds were)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise RagtuneError(f"{folder}: no such adapter folder")
    meta = read_meta(folder)
    if meta is None or meta.kind is None:
        if not is_peft_folder(folder):
            raise RagtuneError(f"{folder}: not an adapter folder (neither a retriever {META} nor a PEFT "
                               f"{PEFT_CONFIG})")
        kind = GENERATOR
    elif meta.kind == LEGACY_RETRIEVER:
        kind = meta.retriever
        if kind not in (QUERY_ADAPTER, ENCODER):
            raise RagtuneError(f"{folder / META}: unknown retriever adapter {kind!r}")
    elif meta.kind in KINDS:
        kind = meta.kind
    else:
        raise RagtuneError(f"{folder / META}: unknown adapter kind {meta.kind!r}")
    for name in REQUIRED_FILES[kind]:
        if name.endswith("/"):
            missing = None if (folder / name).is_dir() else f"its {name} folder"
        else:
            missing = None if (folder / name).is_file() else name
        if missing:
            owner = "retriever adapter" if kind in (QUERY_ADAPTER, ENCODER) else f"{kind} adapter"
            raise RagtuneError(f"{folder}: {owner} without {missing}")
    return AdapterInfo(folder, kind, meta.as_dict() if meta is not None else {})


def split_adapters(infos: Sequence[AdapterInfo]
                   ) -> tuple[AdapterInfo | None, AdapterInfo | None, AdapterInfo | None]:
    """(generator side, retriever side, reader) of several `--adapter` folders; two for one side is an error.

    This is how separately trained adapters are used together: `--adapter GEN --adapter RETRIEVER`.
    """
    generator = retriever = reader = None
    for info in infos:
        if info.kind == READER:
            if reader is not None:
                raise RagtuneError(f"{reader.folder} and {info.folder} are both readers; give one")
            reader = info
        if info.is_generator:
            if generator is not None:
                raise RagtuneError(f"{generator.folder} and {info.folder} both tune the generator; give one")
            generator = info
        if info.is_retriever:
            if retriever is not None:
                raise RagtuneError(f"{retriever.folder} and {info.folder} both tune the retriever; give one")
            retriever = info
    return generator, retriever, reader


def check_generator_base(info: AdapterInfo, generator: str) -> None:
    """A generator LoRA fits only the base model it was trained on (ragtune.json's `base_model`): refused here,
    before any model is loaded, rather than failing deep inside peft or answering with mismatched weights."""
    trained_on = info.meta.get("base_model")
    if trained_on is not None and _model_id(str(trained_on)) != _model_id(generator):
        raise RagtuneError(f"{info.folder}: adapter trained for generator {trained_on!r}, but generator.name is "
                           f"{generator!r}; set generator.name to {trained_on!r} or use an adapter trained for it")


def _model_id(name: str) -> str:
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def embedder_name(name: str) -> str:
    """How an index records an embedder: a local model folder by its absolute path, so any cwd finds it."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name
