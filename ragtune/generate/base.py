"""Base class for generators: chat messages in, text out, streamed or batched."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}
OnBatch = Callable[[dict[int, str]], None]  # a finished batch: {position in the prompts: answer}


class Generator(ABC):
    name: str

    @abstractmethod
    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer piece by piece as it is decoded."""

    @abstractmethod
    def generate(self, batch: list[list[Message]], progress: bool = False, on_batch: OnBatch | None = None
                 ) -> list[str]:
        """Answer many prompts at once (left-padded batches): what eval and synth use. `on_batch` receives
        each finished batch, so a caller can keep what an interruption of an hour-long run would lose."""
