"""Base class for generators: chat messages in, text out, streamed or batched."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}
OnBatch = Callable[[dict[int, str]], None]  # a finished batch: {position in the prompts: answer}


@dataclass(frozen=True)
class SpanSources:
    """What a span-constrained answer may be: a verbatim span of one of `passages`, or exactly `idk`."""

    passages: list[str]
    idk: str


class Generator(ABC):
    name: str
    #: the LoRA folder it generates with (None: the base model)
    adapter = None
    #: its `model` and `tokenizer` are a transformers model another part may score with (a reranker)
    holds_torch_model: bool = False

    @classmethod
    def cache_key(cls, config) -> str:
        """How a GeneratorConfig decodes on this backend (device, precision): part of cached answers' keys."""
        return cls.__name__

    @classmethod
    def unsupported(cls, config, adapter) -> str | None:
        """Why this backend cannot serve a GeneratorConfig with `adapter` (None: it can); loads nothing."""
        return None

    @classmethod
    def load(cls, config, cache_dir, adapter=None) -> Generator:
        """The configured generator (a GeneratorConfig), with a LoRA `adapter` folder: what the factory calls."""
        raise NotImplementedError(f"{cls.__name__} is not built from a config")

    @abstractmethod
    def stream(self, messages: list[Message], spans: SpanSources | None = None) -> Iterator[str]:
        """Yield the answer piece by piece as it is decoded (held to a verbatim span of `spans` when given)."""

    @abstractmethod
    def generate(self, batch: list[list[Message]], progress: bool = False, on_batch: OnBatch | None = None,
                 spans: list[SpanSources] | None = None) -> list[str]:
        """Answer many prompts at once (left-padded batches): what eval and synth use. `on_batch` receives
        each finished batch, so a caller can keep what an interruption of an hour-long run would lose.
        `spans` (one per prompt) holds each answer to a verbatim span of its passages: constrained decoding."""
