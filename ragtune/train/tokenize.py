"""Chat-templated token ids whose labels cover only the answer, so training teaches answers, not prompts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ragtune.errors import RagtuneError
from ragtune.text import count_units
from ragtune.train.examples import TrainExample

IGNORE = -100
#: passages are never shortened below this many units before the prompt's start is cut instead
MIN_UNITS = 16


@dataclass
class Encoded:
    """One training sequence: labels are IGNORE except on the answer tokens and the end-of-turn token."""

    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def stop_token_ids(tokenizer, generation_eos: int | Iterable[int] | None = None) -> set[int]:
    """Tokens that end an assistant turn: the tokenizer's eos plus the model's generation eos ids."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    if isinstance(generation_eos, int):
        ids.add(generation_eos)
    elif generation_eos is not None:
        ids.update(generation_eos)
    return ids


def _render(tokenizer, example: TrainExample, max_units: int, stop_ids: set[int]) -> tuple[list[int], list[int]]:
    messages = example.messages(max_units)
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": example.target}],
                                         tokenize=False)
    if not full.startswith(prompt):
        raise RagtuneError("the generator's chat template does not render the answer after the generation prompt; "
                           "cannot mask labels")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    end = next((i for i, t in enumerate(answer_ids) if t in stop_ids), None)
    return prompt_ids, answer_ids if end is None else answer_ids[: end + 1]


def encode_example(tokenizer, example: TrainExample, max_length: int, stop_ids: set[int]) -> Encoded:
    """The prompt exactly as ask renders it, then the target; over `max_length`, passages are shortened
    (each cut to fewer units, as ask cuts long passages), then as a last resort the prompt's start is dropped.
    The answer is always kept whole."""
    longest = max((count_units(text) for _, text in example.passages), default=0)
    units = max(MIN_UNITS, min(example.max_units, longest))
    prompt_ids, answer_ids = _render(tokenizer, example, units, stop_ids)
    while len(prompt_ids) + len(answer_ids) > max_length and units > MIN_UNITS:
        units = max(MIN_UNITS, int(units * 0.8))
        prompt_ids, answer_ids = _render(tokenizer, example, units, stop_ids)
    answer_ids = answer_ids[: max_length - 1]
    prompt_ids = prompt_ids[max(0, len(prompt_ids) + len(answer_ids) - max_length) :]
    return Encoded(prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids)
