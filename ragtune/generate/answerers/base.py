"""Base class for answer modes: a question and its retrieved passages in, a cited answer out."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.base import Generator, Message, OnBatch
from ragtune.generate.context import PromptBudget
from ragtune.generate.prompt import MIN_PASSAGE_UNITS, build_messages, idk_answer
from ragtune.text import count_units


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

    def __init__(self, config: Config, generator: Callable[[], Generator], reader: Path | None = None,
                 budget: Callable[[], PromptBudget | None] | None = None):
        self.config = config
        self._generator = generator
        self.reader = reader
        self._budget = budget

    @property
    def generator(self) -> Generator:
        return self._generator()

    def messages(self, request: AnswerRequest) -> list[Message]:
        return self._build(request, self.passage_units(request))

    def _build(self, request: AnswerRequest, units: int) -> list[Message]:
        return build_messages(request.question, request.passages, units, request.history)

    def passage_units(self, request: AnswerRequest) -> int:
        """How much of each passage the prompt shows: generator.max_passage_tokens units, cut further (every
        passage alike, as training does) until the prompt fits the generator's context window."""
        units = self.config.generator.max_passage_tokens
        budget = self._budget() if self._budget is not None else None
        if budget is None:
            return units
        longest = max((count_units(text) for _, text in request.passages), default=0)
        units = max(MIN_PASSAGE_UNITS, min(units, longest))  # the same prompt: no passage is cut further
        tokens = budget.count(self._build(request, units))
        while tokens > budget.limit and units > MIN_PASSAGE_UNITS:
            units = max(MIN_PASSAGE_UNITS, int(units * min(0.8, budget.limit / tokens)))
            tokens = budget.count(self._build(request, units))
        if tokens > budget.limit:
            raise RagtuneError(f"the question and conversation do not fit the generator's context even with "
                               f"passages cut to {units} units: {budget.too_long(tokens)}")
        return units

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

    _serial = threading.Lock()

    def submit(self, request: AnswerRequest) -> Iterator[str]:
        """The answer piece by piece for one of many concurrent callers (a server's users). Modes that cannot
        share the generator's batches answer one request at a time."""
        with self._serial:
            yield from self.stream(request)
