"""Base class for generators: chat messages in, text out, streamed or batched."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from ragtune.errors import RagtuneError

if TYPE_CHECKING:
    from ragtune.generate.batching import BatchDecoder

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}
OnBatch = Callable[[dict[int, str]], None]  # a finished batch: {position in the prompts: answer}
T = TypeVar("T")


def encode_prompts(tokenizer, budget, batch: list[list[Message]], tensors: str):
    """Chat prompts templated and left-padded by the generator's own tokenizer (`tensors`: "pt" or "np"); one
    longer than the prompt budget is refused before anything is generated, never run past the window."""
    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in batch]
    encoded = tokenizer(texts, return_tensors=tensors, padding=True, padding_side="left", add_special_tokens=False)
    longest = int(encoded["attention_mask"].sum(-1).max()) if texts else 0
    if budget is not None and longest > budget.limit:
        raise budget.too_long(longest)
    return encoded


def in_batches(batch: list[list[Message]], size: int, answer: Callable[[list[int]], list[T]], progress: bool,
               on_batch: Callable[[dict[int, T]], None] | None) -> list[T]:
    """Answers to `batch` in input order, generated `size` prompts at a time by `answer(rows)` (positions in
    `batch`); similar lengths go together (less padding), and each finished batch reaches `on_batch`."""
    from ragtune.progress import progress_bar

    order = sorted(range(len(batch)), key=lambda i: sum(len(m["content"]) for m in batch[i]))
    results: dict[int, T] = {}
    with progress_bar(total=len(batch), desc="generating", unit="answer", enabled=progress, leave=False) as bar:
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            for i, text in zip(rows, answer(rows)):
                results[i] = text
            if on_batch is not None:
                on_batch({i: results[i] for i in rows})
            bar.update(len(rows))
    return [results[i] for i in range(len(batch))]


@dataclass(frozen=True)
class SpanSources:
    """What a span-constrained answer may be: a verbatim span of one of `passages`, or exactly `idk`."""

    passages: list[str]
    idk: str


@dataclass(frozen=True)
class Candidates:
    """`n` answers to each prompt, for a vote among them (graph/extractor.py): the `n` best beams of a beam search
    ("beam", best first), or `n` samples drawn at `temperature` from the top-`top_p` tokens, the same again for the
    same `seed` ("sample")."""

    n: int
    method: Literal["beam", "sample"] = "beam"
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 0


class Generator(ABC):
    name: str
    #: the LoRA folder it generates with (None: the base model)
    adapter = None
    #: its `model` and `tokenizer` are a transformers model another part may score with (a reranker)
    holds_torch_model: bool = False
    _decoder: BatchDecoder | None = None
    _decoder_lock = threading.Lock()

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

    def candidates(self, batch: list[list[Message]], candidates: Candidates, progress: bool = False,
                   on_batch: Callable[[dict[int, list[str]]], None] | None = None) -> list[list[str]]:
        """`candidates.n` answers to each prompt (beams or samples), batched as `generate`'s are."""
        raise RagtuneError(f"generator {self.name!r}: the {type(self).__name__} backend gives one answer a prompt")

    def decoder(self) -> BatchDecoder:
        """The one thread that decodes for every caller at once, batching their prompts (what a server shares
        among its users; generate/batching.py), built on first use."""
        with self._decoder_lock:
            if self._decoder is None:
                self._decoder = self.make_decoder()
            return self._decoder

    def make_decoder(self) -> BatchDecoder:
        raise NotImplementedError(f"{type(self).__name__} does not batch streamed prompts")
