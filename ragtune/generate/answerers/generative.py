"""Free generation: the prompt's rules and example ask for a short answer and a citation."""

from __future__ import annotations

from collections.abc import Iterator

from ragtune.generate.answerers.base import Answerer, AnswerRequest
from ragtune.generate.base import Message, OnBatch


class GenerativeAnswerer(Answerer):
    mode = "generative"

    def cache_key(self, request: AnswerRequest) -> list[Message]:
        return self.messages(request)  # the prompt alone, as before answer modes existed: old cache entries hold

    def answer(self, requests: list[AnswerRequest], progress: bool = False, on_batch: OnBatch | None = None
               ) -> list[str]:
        return self.generator.generate([self.messages(r) for r in requests], progress=progress, on_batch=on_batch)

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        yield from self.generator.stream(self.messages(request))

    def submit(self, request: AnswerRequest) -> Iterator[str]:
        """Through the generator's batch decoder: concurrent requests decode together, each streaming its own."""
        stream = self.generator.decoder().submit(self.messages(request))
        try:
            yield from stream
        finally:
            stream.cancel()  # a client that went away frees its place in the batch
