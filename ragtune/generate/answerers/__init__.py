"""Answer modes (`generator.answer_mode`): how an answer is made from the retrieved passages."""

from __future__ import annotations

from collections.abc import Callable

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.answerers.base import Answerer, AnswerRequest
from ragtune.generate.answerers.extractive import ExtractiveAnswerer
from ragtune.generate.answerers.generative import GenerativeAnswerer
from ragtune.generate.base import Generator

ANSWERERS: dict[str, type[Answerer]] = {cls.mode: cls for cls in (GenerativeAnswerer, ExtractiveAnswerer)}


def create_answerer(config: Config, generator: Callable[[], Generator], mode: str | None = None) -> Answerer:
    mode = mode or config.generator.answer_mode
    if mode not in ANSWERERS:
        raise RagtuneError(f"generator.answer_mode {mode!r}: choose one of {', '.join(ANSWERERS)}")
    return ANSWERERS[mode](config, generator)


__all__ = ["ANSWERERS", "AnswerRequest", "Answerer", "create_answerer"]
