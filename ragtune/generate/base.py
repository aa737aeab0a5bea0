"""Base class for generators: chat messages in, text out, streamed or batched."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}


class Generator(ABC):
    name: str

    @abstractmethod
    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer piece by piece as it is decoded."""

    @abstractmethod
    def generate(self, batch: list[list[Message]], progress: bool = False) -> list[str]:
        """Answer many prompts at once (left-padded batches): what eval and synth use."""
