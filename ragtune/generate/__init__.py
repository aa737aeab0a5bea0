"""Generator factory."""

from __future__ import annotations

from pathlib import Path

from ragtune.config import Config
from ragtune.generate.base import Generator, Message


def create_generator(config: Config, adapter: str | Path | None = None) -> Generator:
    """Every generator runs through transformers; the name picks packaged weights or a HF id/folder."""
    from ragtune.generate.hf import HFGenerator

    return HFGenerator.load(config.generator, config.resolved_cache_dir, adapter=adapter)


__all__ = ["Generator", "Message", "create_generator"]
