"""Merging a trained adapter into its base model: a plain transformers folder that needs neither peft nor ragtune."""

from __future__ import annotations

from pathlib import Path

import torch

from ragtune.adapters import PEFT_CONFIG, is_peft_folder, peft_base_model, read_meta
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.files import atomic_dir
from ragtune.generate.hf import torch_dtype, with_adapter
from ragtune.generate.packaged import resolve_generator_path


def adapter_base(adapter: Path, config: Config) -> str:
    """The base model the adapter was trained on: ragtune.json's generator name, else adapter_config.json's."""
    meta = read_meta(adapter)
    name = (meta.base_model if meta is not None else None) or peft_base_model(adapter)
    if not name:
        raise RagtuneError(f"{adapter}: cannot tell which base model this adapter belongs to")
    return resolve_generator_path(name, config.resolved_cache_dir)


def export_merged(adapter: str | Path, out: str | Path, config: Config | None = None) -> Path:
    """Base + adapter merged (in float32, saved in generator.dtype) with its tokenizer, written atomically to OUT.
    An existing OUT is replaced only when it is empty or itself a model folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    config = config or Config()
    adapter, out = Path(adapter).expanduser(), Path(out).expanduser()
    if not is_peft_folder(adapter):
        raise RagtuneError(f"{adapter}: not a PEFT adapter folder (no {PEFT_CONFIG})")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "config.json").is_file())):
        raise RagtuneError(f"{out} exists and is not a model folder; choose another --out")
    dtype = torch_dtype(config.generator.dtype)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    base_path = adapter_base(adapter, config)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        merged = with_adapter(base, adapter).merge_and_unload()
    except (OSError, ValueError) as exc:
        raise RagtuneError(f"{adapter}: cannot merge into {base_path}: {str(exc).splitlines()[0]}") from exc
    merged = merged.to(dtype)
    with atomic_dir(out) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out
