"""Answering with a trained span reader (`ragtune train reader`): the best span over the top-k passages.

Each passage is read once with the question in front; a span's score is its start + end logits plus the
passage's retrieval score (min-max normalised over the top-k, weighted).
The winning span is cited like any answer. The weight is the one `train reader` fitted on its held-out questions
unless the config sets one. No tokens are generated, so it is also the fastest mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from ragtune.errors import RagtuneError
from ragtune.generate.answerers.base import Answerer, AnswerRequest
from ragtune.generate.base import OnBatch
from ragtune.generate.cache import adapter_fingerprint
from ragtune.progress import progress_bar

#: questions per batch of passes
QUESTIONS_PER_BATCH = 4


class ReaderAnswerer(Answerer):
    mode = "reader"

    @cached_property
    def _model(self):
        import torch

        from ragtune.generate.hf import torch_dtype
        from ragtune.generate.span_reader import load_reader
        from ragtune.hardware import resolve_device

        if self.reader is None:
            raise RagtuneError("answer mode reader needs a trained reader: --adapter DIR from `ragtune train reader`")
        if self.config.generator.threads:
            torch.set_num_threads(self.config.generator.threads)
        device = resolve_device(self.config.generator.device)
        return load_reader(self.config, self.reader, torch_dtype(self.config.generator.dtype, device), device)

    def cache_key(self, request: AnswerRequest) -> dict[str, Any]:
        return {"mode": self.mode, "reader": adapter_fingerprint(self.reader), "question": request.question,
                "passages": request.passages, "scores": [round(s, 6) for s in request.scores],
                "weight": self.retrieval_weight,
                "max_answer_tokens": self.config.generator.reader_max_answer_tokens}

    @cached_property
    def retrieval_weight(self) -> float:
        """The config's weight when set, else the one `train reader` fitted on its held-out questions, else 1."""
        if self.config.generator.reader_retrieval_weight is not None:
            return self.config.generator.reader_retrieval_weight
        from ragtune.adapters import inspect_adapter

        meta = inspect_adapter(self.reader).meta if self.reader is not None else {}
        from ragtune.generate.span_reader import DEFAULT_RETRIEVAL_WEIGHT

        return float((meta.get("retrieval_fit") or {}).get("weight", DEFAULT_RETRIEVAL_WEIGHT))

    def _priors(self, request: AnswerRequest) -> list[float]:
        from ragtune.generate.span_reader import retrieval_priors

        return retrieval_priors(request.scores or [0.0] * len(request.passages), self.retrieval_weight)

    def answer(self, requests: list[AnswerRequest], progress: bool = False, on_batch: OnBatch | None = None
               ) -> list[str]:
        from ragtune.generate.span_reader import READ_TOKENS, encode_pair, read_answers

        tokenizer, model = self._model
        answers: list[str] = []
        with progress_bar(total=len(requests), desc="reading", unit="answer", enabled=progress, leave=False) as bar:
            for at in range(0, len(requests), QUESTIONS_PER_BATCH):
                chunk = requests[at : at + QUESTIONS_PER_BATCH]
                groups = [[encode_pair(tokenizer, r.question, title, text, READ_TOKENS) for title, text in r.passages]
                          for r in chunk]
                found = read_answers(model, tokenizer, groups, self.config.generator.reader_max_answer_tokens,
                                     self.config.train_reader.bf16, [self._priors(r) for r in chunk])
                done = [f"{span} [{n + 1}]" if span else r.idk for r, (span, n) in zip(chunk, found, strict=True)]
                answers.extend(done)
                if on_batch is not None:
                    on_batch({at + i: a for i, a in enumerate(done)})
                bar.update(len(chunk))
        return answers

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        yield self.answer([request])[0]
