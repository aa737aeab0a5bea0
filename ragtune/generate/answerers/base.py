"""Base class for answer modes: a question and its retrieved passages in, a cited answer out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.ask.prompt import build_messages, idk_answer
from ragtune.config import Config
from ragtune.generate.base import Generator, Message, OnBatch


@dataclass
class AnswerRequest:
    """What an answer is made from: the question, its passages as (title, text) in citation order, the chat."""

    question: str
    passages: list[tuple[str, str]]
    history: list[Message] = field(default_factory=list)
    #: the passages' retrieval scores (what ranked them), for modes that weigh them
    scores: list[float] = field(default_factory=list)

    @property
    def idk(self) -> str:
        return idk_answer(self.question)


class Answerer(ABC):
    """One way of answering from passages. Subclasses share the pipeline's generator, loaded on first use."""

    mode: str

    def __init__(self, config: Config, generator: Callable[[], Generator], reader: Path | None = None):
        self.config = config
        self._generator = generator
        self.reader = reader

    @property
    def generator(self) -> Generator:
        return self._generator()

    def messages(self, request: AnswerRequest) -> list[Message]:
        return build_messages(request.question, request.passages, self.config.generator.max_passage_tokens,
                              request.history)

    @abstractmethod
    def cache_key(self, request: AnswerRequest) -> Any:
        """JSON-able material that decides the answer (with the model and adapter): the generation cache key."""

    @abstractmethod
    def answer(self, requests: list[AnswerRequest], progress: bool = False, on_batch: OnBatch | None = None
               ) -> list[str]:
        """Answers in order, batched; `on_batch` receives each finished batch (positions in `requests`)."""

    @abstractmethod
    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """The answer piece by piece, as it is decoded."""
