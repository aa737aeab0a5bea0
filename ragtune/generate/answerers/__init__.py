"""Answer modes (`generator.answer_mode`): how an answer is made from the retrieved passages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.answerers.base import Answerer, AnswerRequest
from ragtune.generate.answerers.extractive import ExtractiveAnswerer
from ragtune.generate.answerers.generative import GenerativeAnswerer
from ragtune.generate.answerers.reader import ReaderAnswerer
from ragtune.generate.base import Generator
from ragtune.generate.context import PromptBudget

ANSWERERS: dict[str, type[Answerer]] = {
    cls.mode: cls for cls in (GenerativeAnswerer, ExtractiveAnswerer, ReaderAnswerer)}
#: what "auto" means without a trained reader (with one, "auto" is the reader)
AUTO_WITHOUT_READER = "generative"


def resolve_mode(mode: str, reader: Path | None) -> str:
    if mode == "auto":
        return ReaderAnswerer.mode if reader is not None else AUTO_WITHOUT_READER
    if mode not in ANSWERERS:
        raise RagtuneError(f"generator.answer_mode {mode!r}: choose auto or one of {', '.join(ANSWERERS)}")
    return mode


def create_answerer(config: Config, generator: Callable[[], Generator], reader: Path | None = None,
                    mode: str | None = None, budget: Callable[[], PromptBudget | None] | None = None) -> Answerer:
    """The answer mode `mode` (default: the config's), sharing `generator`; `reader` is a `train reader` folder;
    `budget` gives the generator's prompt budget (prompts are fitted to it), loaded when first needed."""
    return ANSWERERS[resolve_mode(mode or config.generator.answer_mode, reader)](config, generator, reader, budget)


__all__ = ["ANSWERERS", "AnswerRequest", "Answerer", "create_answerer"]
