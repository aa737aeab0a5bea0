"""How long a prompt may be: the generator's context window less the tokens kept for the answer.

A prompt past the window does not fail loudly in transformers: positions past the trained range give garbage
or an index error deep in the model. So prompts are measured with the generator's own tokenizer and chat
template; the answerers shorten passages until they fit, and the generator refuses what still does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.config import GeneratorConfig
from ragtune.errors import RagtuneError, first_line
from ragtune.generate.base import Message

#: a tokenizer's model_max_length at or above this is transformers' "not set" sentinel (int(1e30)), not a window
_UNSET = 10**9


@dataclass
class PromptBudget:
    """Counts a chat prompt's tokens as the generator encodes it, against the tokens it may take (`limit`)."""

    tokenizer: Any
    window: int
    max_new_tokens: int

    @property
    def limit(self) -> int:
        return self.window - self.max_new_tokens

    def count(self, messages: list[Message]) -> int:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def too_long(self, tokens: int) -> RagtuneError:
        return RagtuneError(f"a prompt of {tokens} tokens does not fit the generator's context window of "
                            f"{self.window} tokens less generator.max_new_tokens {self.max_new_tokens}")


def context_window(tokenizer, model_config) -> int | None:
    """The smaller of the tokenizer's model_max_length and the model's max_position_embeddings (None: unknown)."""
    sizes = (getattr(tokenizer, "model_max_length", None), getattr(model_config, "max_position_embeddings", None))
    known = [int(s) for s in sizes if isinstance(s, int) and 0 < s < _UNSET]
    return min(known) if known else None


def prompt_budget(tokenizer, model_config, max_new_tokens: int) -> PromptBudget | None:
    """The budget of a loaded generator; None when its window is unknown (nothing to check against)."""
    window = context_window(tokenizer, model_config)
    if window is None:
        return None
    if window <= max_new_tokens:
        raise RagtuneError(f"generator.max_new_tokens {max_new_tokens} leaves no room for a prompt in the "
                           f"generator's context window of {window} tokens")
    return PromptBudget(tokenizer, window, max_new_tokens)


def load_prompt_budget(config: GeneratorConfig, cache_dir: Path) -> PromptBudget | None:
    """The budget from the generator's tokenizer and config files alone: no weights are loaded."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from ragtune.generate.packaged import resolve_generator_path

    hf_logging.set_verbosity_error()
    path = resolve_generator_path(config.name, cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model_config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise RagtuneError(f"generator {config.name!r}: cannot load: {first_line(exc)}") from exc
    return prompt_budget(tokenizer, model_config, config.max_new_tokens)
