"""What a trained `--adapter` folder holds: a generator LoRA, a query-side retriever adapter, a new encoder, or
a jointly trained LoRA + query adapter.

Deciding needs only the folder's small files (no model is loaded), so ask and eval can refuse early. Several
folders combine when each tunes a different side (one generator side, one retriever side).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import RagtuneError

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
QUERY_ADAPTER_FILE = "query_adapter.safetensors"
ENCODER_DIR = "encoder"


@dataclass
class AdapterInfo:
    folder: Path
    kind: str
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
    """Read ragtune.json's `kind` (retriever adapters), else recognise a PEFT folder (generator adapters)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise RagtuneError(f"{folder}: no such adapter folder")
    meta: dict[str, Any] = {}
    if (folder / META).is_file():
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RagtuneError(f"{folder / META}: unreadable ({exc})") from exc
    if meta.get("kind") == JOINT:
        for name in (QUERY_ADAPTER_FILE, "adapter_config.json"):
            if not (folder / name).is_file():
                raise RagtuneError(f"{folder}: joint adapter without {name}")
        return AdapterInfo(folder, JOINT, meta)
    if meta.get("kind") == READER:
        for name in ("reader_head.safetensors", "adapter_config.json"):
            if not (folder / name).is_file():
                raise RagtuneError(f"{folder}: reader adapter without {name}")
        return AdapterInfo(folder, READER, meta)
    if meta.get("kind") == "retriever":
        kind = meta.get("retriever")
        if kind == QUERY_ADAPTER and not (folder / QUERY_ADAPTER_FILE).is_file():
            raise RagtuneError(f"{folder}: retriever adapter without {QUERY_ADAPTER_FILE}")
        if kind == ENCODER and not (folder / ENCODER_DIR).is_dir():
            raise RagtuneError(f"{folder}: retriever adapter without its {ENCODER_DIR}/ folder")
        if kind not in (QUERY_ADAPTER, ENCODER):
            raise RagtuneError(f"{folder / META}: unknown retriever adapter {kind!r}")
        return AdapterInfo(folder, kind, meta)
    if (folder / "adapter_config.json").is_file():
        return AdapterInfo(folder, GENERATOR, meta)
    raise RagtuneError(f"{folder}: not an adapter folder (neither a retriever {META} nor a PEFT adapter_config.json)")


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
