"""What the server does, without HTTP: one Pipeline's models shared by every request, over the live snapshot.

The models (embedder, rerankers, generator) load once. The index is a `View` of one snapshot: a request takes
the current view when it starts and keeps it to its end, while a newer snapshot (an upload, or `ragtune read`
in another process) is noticed within `serve.reload_check_s` and becomes the view of later requests.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import anyio

from ragtune.ask.retriever import HybridRetriever, RetrievedPassage
from ragtune.config import Config
from ragtune.generate.base import Message
from ragtune.generate.citations import cited_numbers
from ragtune.generate.prompt import idk_answer
from ragtune.index.backends import IndexBackend, as_location, index_version, open_index
from ragtune.pipeline import Answer, Pipeline
from ragtune.serve.jobs import UPLOADS
from ragtune.workers import OnDemandQueue

_UPLOAD_PREFIX = re.compile(r"^\d+-")


@dataclass(frozen=True)
class View:
    """One snapshot and the retriever over it (None: no index yet, so nothing is retrieved)."""

    snapshot: str | None
    store: IndexBackend | None
    retriever: HybridRetriever | None

    @cached_property
    def documents(self) -> dict[str, dict]:
        """Source key -> {name, title, passages}: counted once per snapshot, not per listing."""
        if self.store is None:
            return {}
        counts: dict[str, list] = {}
        for passage in self.store.passages:
            counts.setdefault(passage.source, [0, passage.title])[0] += 1
        listed = {}
        for source in self.store.sources:
            count, title = counts.get(source, [0, ""])
            name = Path(source).name
            if Path(source).parent.parent.name == UPLOADS:
                name = _UPLOAD_PREFIX.sub("", name)  # the server's number before the uploaded name
            listed[source] = {"name": name, "title": title, "passages": count}
        return listed


class RetrievalBatcher:
    """Concurrent requests' searches run together: one thread takes every query waiting (up to `size`) and
    embeds them in one batch (a lone query costs ~5 ms to embed, one of 64 under 1 ms), so retrieval keeps up
    with many clients; a lone request waits for nobody."""

    def __init__(self, size: int = 64):
        self.size = size
        self.queue: OnDemandQueue[tuple[View, str, int | None, bool, Future]] = OnDemandQueue("retrieval",
                                                                                              self._handle)

    def retrieve(self, view: View, query: str, k: int | None, rerank: bool) -> list[RetrievedPassage]:
        return self.submit(view, query, k, rerank).result()

    def submit(self, view: View, query: str, k: int | None, rerank: bool) -> Future:
        """The ranking to come, as a Future (an async caller awaits it without holding a thread)."""
        done: Future = Future()
        if view.retriever is None:
            done.set_result([])
        else:
            self.queue.put((view, query, k, rerank, done))
        return done

    def _handle(self, first) -> None:
        batch = [first, *self.queue.take_waiting(self.size - 1)]
        groups: dict[tuple[int, bool], list] = {}
        for item in batch:  # one call per snapshot and rerank choice
            groups.setdefault((id(item[0]), item[3]), []).append(item)
        for items in groups.values():
            view, rerank = items[0][0], items[0][3]
            deepest = max((k or view.retriever.config.top_k) for _, _, k, _, _ in items)
            try:
                ranked = view.retriever.retrieve_many([q for _, q, _, _, _ in items], deepest, rerank)
            except BaseException as exc:  # noqa: BLE001 - each waiting request gets the error
                for *_, done in items:
                    done.set_exception(exc)
                continue
            for (_, _, k, _, done), passages in zip(items, ranked):
                done.set_result(passages[: k or view.retriever.config.top_k])


@dataclass
class Asked:
    """A question on its way: what was searched, the passages, and the answer's pieces still to come."""

    question: str
    query: str
    sources: list[RetrievedPassage]
    pieces: Iterator[str]
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def answer(self, text: str) -> Answer:
        text = text.strip()
        self.timings["total_s"] = time.perf_counter() - self.started
        return Answer(self.question, text, self.sources, cited_numbers(text, len(self.sources)), self.timings,
                      self.query)


class Service:
    def __init__(self, index_dir: str | Path, config: Config | None = None, adapter=None, *,
                 pipeline: Pipeline | None = None):
        """`pipeline`: one over `index_dir` whose models are already loaded (else the config's load once)."""
        self.index_dir = as_location(index_dir)  # a folder, or a database URL (postgresql://...)
        self.config = config or Config()
        self.pipeline = pipeline or Pipeline(self.index_dir, self.config, adapter, progress=False)
        self._view: View | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.batcher = RetrievalBatcher()

    # ---- the index --------------------------------------------------------------------------
    def view(self) -> View:
        """The view of the live snapshot (checked at most every `serve.reload_check_s`)."""
        now = time.monotonic()
        view = self._view
        if view is not None and now - self._checked < self.config.serve.reload_check_s:
            return view
        with self._lock:
            self._checked = now
            name = index_version(self.index_dir, self.config)
            if self._view is None or self._view.snapshot != name:
                self._view = self._load(name)
            return self._view

    def _load(self, snapshot: str | None) -> View:
        if snapshot is None:
            return View(None, None, None)
        store = open_index(self.index_dir, self.config)
        return View(snapshot, store, self.pipeline.retriever_over(store))

    def refresh(self) -> View:
        """Look for a new snapshot now (after an upload)."""
        self._checked = 0.0
        return self.view()

    def warm_up(self) -> None:
        """Load the models before the first request (the first answer should not wait for them)."""
        self.view()
        self.pipeline.embedder.encode_queries(["warm up"])
        self.pipeline.generator.decoder()

    # ---- questions --------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, history: list[Message] | None = None,
                 rerank: bool = False) -> tuple[str, list[RetrievedPassage]]:
        """The passages alone (the fast path: fused order unless `rerank`)."""
        query = self.pipeline.search_query(question, history)
        return query, self.batcher.retrieve(self.view(), query, k, rerank)

    async def retrieve_async(self, question: str, k: int | None = None, history: list[Message] | None = None,
                             rerank: bool = False) -> tuple[str, list[RetrievedPassage]]:
        """`retrieve` for the event loop: a question needing no rewrite waits for its batch without a thread
        (the thread hop cost a third of a retrieval's time under load); a follow-up's rewrite runs in one."""
        if self.pipeline.needs_generator(history):
            return await anyio.to_thread.run_sync(self.retrieve, question, k, history, rerank)
        query = self.pipeline.search_query(question)
        return query, await asyncio.wrap_future(self.batcher.submit(self.view(), query, k, rerank))

    def ask(self, question: str, k: int | None = None, history: list[Message] | None = None) -> Asked:
        """Retrieve now; the answer's pieces come from the generator's shared batches as they decode."""
        view = self.view()
        prepared = self.pipeline.prepare(question, k, history,
                                         retrieve=lambda query, k: self.batcher.retrieve(view, query, k, True))
        if prepared.request is None:
            return Asked(question, prepared.query, prepared.retrieved, iter([idk_answer(question)]),
                         prepared.timings, prepared.started)
        return Asked(question, prepared.query, prepared.sources, self.pipeline.answerer.submit(prepared.request),
                     prepared.timings, prepared.started)

    # ---- health -----------------------------------------------------------------------------
    def health(self) -> dict:
        view = self.view()
        store = view.store
        return {"status": "ok", "passages": len(store) if store is not None else 0,
                "documents": len(store.sources) if store is not None else 0, "snapshot": view.snapshot,
                "generator": self.config.generator.name, "backend": self.pipeline.generator_backend}

    def queue_depth(self) -> int:
        """Prompts waiting for or in the generator's batch."""
        if not self.pipeline.loaded("generator"):
            return 0
        decoder = self.pipeline.generator.decoder()
        return decoder.waiting + decoder.running
