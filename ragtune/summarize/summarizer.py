"""Summaries through the pipeline's generator: one pass when a document fits, map-reduce when it does not, and
query-focused summaries of retrieved passages with [n] citations.

Generation is batched (every document's pending prompts of a round go to `Generator.generate` together) and
cached (`Pipeline.generation_cache`, as eval's answers are), so an eval rerun generates only what is new.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ragtune.ask.retriever import RetrievedPassage
from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.base import Message
from ragtune.generate.citations import cited_numbers
from ragtune.generate.context import PromptBudget
from ragtune.generate.prompt import MIN_PASSAGE_UNITS, idk_answer
from ragtune.pipeline import Pipeline, answer_sources
from ragtune.read.chunking import chunk_text
from ragtune.summarize.prompt import DOCUMENT, PART, PARTS, query_messages, summary_messages
from ragtune.text import count_units, language_of

#: characters of a document its language is judged from (a long document need not be scanned whole)
LANGUAGE_SAMPLE = 4000
_GIVEN = object()


def summary_config(config: Config, length: str | None = None) -> Config:
    """`config` set for summaries of `length` (default summarize.length): the length, and generator.max_new_tokens
    from summarize.length_tokens (the prompt budget and the cache key follow it)."""
    length = length or config.summarize.length
    if length not in config.summarize.lengths or length not in config.summarize.length_tokens:
        raise RagtuneError(f"unknown summary length {length!r}: use one of {', '.join(config.summarize.lengths)}")
    summarize = config.summarize.model_copy(update={"length": length})
    generator = config.generator.model_copy(update={"max_new_tokens": config.summarize.length_tokens[length]})
    return config.model_copy(update={"summarize": summarize, "generator": generator})


@dataclass
class Summary:
    """A summary; `pieces` are the map pieces of its first round (1: the document fit one pass) and `rounds` the
    generation rounds it took. Query-focused summaries carry their `sources` and the 1-based `cited` ones."""

    summary: str
    language: str
    length: str
    pieces: int = 1
    rounds: int = 1
    sources: list[RetrievedPassage] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"summary": self.summary, "language": self.language, "length": self.length,
                                   "pieces": self.pieces, "rounds": self.rounds}
        if self.sources:
            payload["sources"] = [s.to_json(cited=i in self.cited) for i, s in enumerate(self.sources, start=1)]
            payload["cited"] = self.cited
        payload["seconds"] = round(self.seconds, 3)
        return payload


@dataclass
class _Job:
    """One document's map-reduce state: the text of this round (the document, then its parts' summaries)."""

    text: str
    lang: str
    kind: str = DOCUMENT
    pieces: int = 1
    rounds: int = 0
    summary: str | None = None


class Summarizer:
    """Summaries with `pipeline`'s generator (its config from `summary_config`). `budget` overrides the
    generator's prompt budget (tests: a small window); `cache` False generates everything afresh."""

    def __init__(self, pipeline: Pipeline, budget: PromptBudget | None | object = _GIVEN, cache: bool = True,
                 progress: bool | None = None):
        self.pipeline = pipeline
        self.config = pipeline.config.summarize
        self.sentences = self.config.lengths[self.config.length]
        self._budget = budget
        self.cache = pipeline.generation_cache() if cache else None
        self.progress = pipeline.progress if progress is None else progress

    @property
    def budget(self) -> PromptBudget | None:
        return self.pipeline.prompt_budget if self._budget is _GIVEN else self._budget  # type: ignore[return-value]

    @property
    def limit(self) -> int:
        """Most tokens one prompt may take: summarize.max_input_tokens, or less when the window is smaller."""
        budget = self.budget
        return min(self.config.max_input_tokens, budget.limit) if budget is not None else self.config.max_input_tokens

    def count(self, messages: list[Message]) -> int:
        """A prompt's tokens as the generator encodes it (units without a known tokenizer)."""
        budget = self.budget
        if budget is not None:
            return budget.count(messages)
        return sum(count_units(m["content"]) for m in messages)

    def fits(self, messages: list[Message]) -> bool:
        return self.count(messages) <= self.limit

    # ---- documents ------------------------------------------------------------------------
    def summarize(self, text: str) -> Summary:
        return self.summarize_many([text])[0]

    def summarize_many(self, texts: list[str]) -> list[Summary]:
        """A summary of each text, in its language; texts too long for one prompt go through map-reduce. Each
        round generates every text's pending prompts in one batch."""
        start = time.perf_counter()
        if any(not text.strip() for text in texts):
            raise RagtuneError("nothing to summarize: the document has no text")
        jobs = [_Job(text, language_of(text[:LANGUAGE_SAMPLE])) for text in texts]
        while pending := [job for job in jobs if job.summary is None]:
            prompts: list[list[Message]] = []
            owners: list[tuple[_Job, bool]] = []  # (job, whether its prompt is its final one)
            for job in pending:
                job.rounds += 1
                if job.rounds > self.config.max_rounds:
                    raise RagtuneError(f"a document still too long after {self.config.max_rounds} map-reduce "
                                       "rounds (summarize.max_rounds)")
                whole = summary_messages(job.text, job.lang, self.sentences, job.kind)
                if self.fits(whole):
                    prompts.append(whole)
                    owners.append((job, True))
                    continue
                pieces = self.split(job.text, job.lang, PART if job.kind == DOCUMENT else PARTS)
                if job.rounds == 1:
                    job.pieces = len(pieces)
                prompts += [summary_messages(p, job.lang, self.sentences, PART if job.kind == DOCUMENT else PARTS)
                            for p in pieces]
                owners += [(job, False)] * len(pieces)
            outputs = self._generate(prompts)
            mapped: dict[int, list[str]] = {}
            for (job, final), output in zip(owners, outputs, strict=True):
                if final:
                    job.summary = output
                else:
                    mapped.setdefault(id(job), []).append(output)
            for job in pending:
                if job.summary is None:
                    self._reduce(job, mapped[id(job)])
        seconds = (time.perf_counter() - start) / max(len(jobs), 1)
        return [Summary(job.summary or "", job.lang, self.config.length, job.pieces, job.rounds, seconds=seconds)
                for job in jobs]

    def _reduce(self, job: _Job, summaries: list[str]) -> None:
        """The next round's text: the pieces' summaries in order; it must be shorter than this round's."""
        joined = "\n".join(s for s in summaries if s.strip())
        if count_units(joined) >= count_units(job.text):
            raise RagtuneError("map-reduce does not shorten this document: its pieces' summaries are as long as the "
                               "pieces (raise summarize.max_input_tokens or use a shorter --length)")
        job.text, job.kind = joined, PARTS

    def split(self, text: str, lang: str, kind: str) -> list[str]:
        """`text` in sentence-aligned pieces whose prompts each fit: summarize.chunk_units, shrunk until they do."""
        units = self.config.chunk_units
        while True:
            pieces = chunk_text(text, units, 0)
            if all(self.fits(summary_messages(p, lang, self.sentences, kind)) for p in pieces):
                return pieces
            if units <= MIN_PASSAGE_UNITS:
                raise RagtuneError(f"the summary prompt does not fit summarize.max_input_tokens {self.limit} even "
                                   f"with pieces of {units} units")
            units = max(MIN_PASSAGE_UNITS, int(units * 0.8))

    def _generate(self, prompts: list[list[Message]]) -> list[str]:
        def generate(todo, save):
            return self.pipeline.generator.generate(todo, progress=self.progress, on_batch=save)

        outputs = self.cache.generate(prompts, generate) if self.cache is not None else generate(prompts, None)
        return [o.strip() for o in outputs]

    # ---- query-focused ----------------------------------------------------------------------
    def summarize_query(self, query: str, k: int | None = None) -> Summary:
        """What the index says about `query`: its retrieved passages summarized, each sentence citing [n]."""
        start = time.perf_counter()
        lang = language_of(query)
        k = k or self.config.top_k or self.pipeline.config.retrieval.top_k
        sources = answer_sources(self.pipeline.retrieve(query, k))
        if not sources:
            return Summary(idk_answer(query), lang, self.config.length, 0, 0,
                           seconds=time.perf_counter() - start)
        passages = [(s.passage.title, s.passage.text) for s in sources]
        units = self.pipeline.config.generator.max_passage_tokens
        messages = query_messages(query, passages, units, lang, self.sentences)
        while not self.fits(messages) and units > MIN_PASSAGE_UNITS:
            units = max(MIN_PASSAGE_UNITS, int(units * 0.8))
            messages = query_messages(query, passages, units, lang, self.sentences)
        if not self.fits(messages):
            raise RagtuneError(f"the topic does not fit summarize.max_input_tokens {self.limit} even with passages "
                               f"cut to {units} units")
        text = self._generate([messages])[0]
        return Summary(text, lang, self.config.length, len(sources), 1, sources,
                       cited_numbers(text, len(sources)), time.perf_counter() - start)
