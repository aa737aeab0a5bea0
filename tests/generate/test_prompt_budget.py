"""Prompts fit the generator's context window: passages are cut to fit, measured with the real tokenizer."""

from __future__ import annotations

import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.answerers import AnswerRequest
from ragtune.generate.answerers.extractive import ExtractiveAnswerer
from ragtune.generate.answerers.generative import GenerativeAnswerer
from ragtune.generate.context import load_prompt_budget
from ragtune.generate.prompt import MIN_PASSAGE_UNITS
from ragtune.text import count_units

#: passages shown whole (up to 20000 units each), so only the context window bounds the prompt
CONFIG = Config(generator={"max_passage_tokens": 20000})


def _no_generator():
    raise AssertionError("fitting a prompt needs the tokenizer, not the model")


@pytest.fixture(scope="module")
def budget():
    """The packaged generator's tokenizer and config files: no weights are loaded."""
    return load_prompt_budget(CONFIG.generator, CONFIG.resolved_cache_dir)


def test_the_window_is_the_models_less_the_answers_tokens(budget):
    # Qwen2.5's tokenizer says 1e30 (transformers' "unset"); the model config says 32768 positions
    assert budget.window == 32768 and budget.limit == 32768 - CONFIG.generator.max_new_tokens


def test_passages_are_cut_until_the_prompt_fits(budget):
    passages = [(f"T{n}", " ".join(f"w{n}x{i}" for i in range(15000))) for n in range(3)]  # ~45000 words each
    request = AnswerRequest("Which word comes first?", passages)
    answerer = GenerativeAnswerer(CONFIG, _no_generator, budget=lambda: budget)
    units = answerer.passage_units(request)
    assert MIN_PASSAGE_UNITS < units < 15000
    messages = answerer.messages(request)
    assert budget.limit * 0.5 < budget.count(messages) <= budget.limit
    final = messages[-1]["content"]
    assert all(f"[{n + 1}] T{n}: w{n}x0 " in final for n in range(3))  # every passage kept, each cut alike
    assert final.endswith("Question: Which word comes first?")
    assert answerer.cache_key(request) == messages
    # extraction is held to the passages as this prompt shows them: cut the same way
    extractive = ExtractiveAnswerer(CONFIG, _no_generator, budget=lambda: budget)
    shown = extractive._shown(request)
    assert all(text in final for text in shown) and max(count_units(t) for t in shown) < 15000


def test_a_prompt_that_fits_is_unchanged(budget):
    request = AnswerRequest("长城有多长？", [("长城", "长城很长。" * 40)])
    fitted = GenerativeAnswerer(CONFIG, _no_generator, budget=lambda: budget).messages(request)
    assert fitted == GenerativeAnswerer(CONFIG, _no_generator).messages(request)


def test_a_conversation_too_long_for_the_window_is_an_error(budget):
    history = [{"role": "user", "content": "word " * 40000}, {"role": "assistant", "content": "ok"}]
    request = AnswerRequest("And then?", [("T", "short passage")], history)
    with pytest.raises(RagtuneError, match="does not fit the generator's context window of 32768 tokens"):
        GenerativeAnswerer(CONFIG, _no_generator, budget=lambda: budget).messages(request)
