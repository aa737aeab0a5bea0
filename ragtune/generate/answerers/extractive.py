"""Extractive answering by constrained decoding: the generator may only write a verbatim span of a passage.

The same prompt as generative answering, but every decoded token must continue a substring of one of the
passages as shown (or the "I don't know" reply); the span then gets the citation of the first passage that
holds it. No training needed: it removes the answers *beside* the span (a unit added, a paraphrase).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ragtune.generate.answerers.base import Answerer, AnswerRequest
from ragtune.generate.base import OnBatch, SpanSources
from ragtune.generate.prompt import shown_passages

_TRAILING_MARK = re.compile(r"\s*[\[【]\s*$")


class ExtractiveAnswerer(Answerer):
    mode = "extractive"

    def _shown(self, request: AnswerRequest) -> list[str]:
        return shown_passages(request.passages, self.passage_units(request))  # exactly as the prompt shows them

    def _spans(self, request: AnswerRequest) -> SpanSources:
        return SpanSources(self._shown(request), request.idk)

    def cache_key(self, request: AnswerRequest) -> dict[str, Any]:
        return {"mode": self.mode, "messages": self.messages(request)}

    def answer(self, requests: list[AnswerRequest], progress: bool = False, on_batch: OnBatch | None = None
               ) -> list[str]:
        def cited(done: dict[int, str]) -> None:
            on_batch({i: self.cite(requests[i], span) for i, span in done.items()})

        spans = self.generator.generate([self.messages(r) for r in requests], progress=progress,
                                        on_batch=cited if on_batch else None,
                                        spans=[self._spans(r) for r in requests])
        return [self.cite(r, span) for r, span in zip(requests, spans, strict=True)]

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        text, sent = "", ""
        for piece in self.generator.stream(self.messages(request), spans=self._spans(request)):
            text += piece
            clean = _TRAILING_MARK.sub("", text).lstrip()  # a citation's bracket ends the span: not shown
            if clean.startswith(sent) and len(clean) > len(sent):
                yield clean[len(sent):]
                sent = clean
        full = self.cite(request, text)
        if full.startswith(sent):
            yield full[len(sent):]  # the citation (or the whole reply, if nothing was shown yet)

    def cite(self, request: AnswerRequest, span: str) -> str:
        """The span with the citation of the first passage that holds it (the IDK reply stays bare)."""
        span = _TRAILING_MARK.sub("", span).strip()
        if not span or span == request.idk:
            return request.idk
        for n, text in enumerate(self._shown(request), start=1):
            if span in text:
                return f"{span} [{n}]"
        return span
