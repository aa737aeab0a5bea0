"""The Python API the CLI is a thin layer over: read → ask (retrieve) → generate."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ragtune.adapters import (
    ENCODER,
    ENCODER_DIR,
    QUERY_ADAPTER,
    QUERY_ADAPTER_FILE,
    AdapterInfo,
    check_generator_base,
    embedder_name,
    inspect_adapter,
    split_adapters,
)
from ragtune.ask import followup
from ragtune.ask.graph_retrieval import GraphRetriever, graph_retriever
from ragtune.ask.question import check_question
from ragtune.ask.rerankers import Reranker, create_rerankers
from ragtune.ask.retriever import HybridRetriever, RetrievedPassage
from ragtune.config import Config, RetrievalConfig
from ragtune.errors import RagtuneError
from ragtune.generate import Generator, Message, backend_class, create_generator, resolve_backend
from ragtune.generate.answerers import Answerer, AnswerRequest, create_answerer
from ragtune.generate.cache import GenerationCache
from ragtune.generate.citations import cited_numbers
from ragtune.generate.context import PromptBudget, load_prompt_budget
from ragtune.generate.prompt import idk_answer
from ragtune.index.backends import IndexBackend, as_location, index_exists, index_manifest, open_index
from ragtune.index.embedders import Embedder, create_embedder
from ragtune.index.indexer import ReadReport, delete_paths, optimize_index, read_paths, reembed_index
from ragtune.progress import progress_bar

#: questions embedded and searched at a time by retrieve_many (eval, training and synth retrieve this way)
RETRIEVE_BATCH = 64
#: the parts built from the index: a changed index (read, delete, reembed) builds them again
INDEX_PARTS = ("store", "query_embedder", "retriever", "base_retriever")
T = TypeVar("T")


@dataclass
class Answer:
    """An answer with the passages it was generated from; `cited` are 1-based positions in `sources`."""

    question: str
    answer: str
    sources: list[RetrievedPassage]
    cited: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: what was searched: the question, or a follow-up made standalone (retrieval.followups)
    query: str = ""

    def to_json(self) -> dict:
        return {
            "answer": self.answer,
            "standalone_question": self.query or self.question,
            "sources": [s.to_json(cited=i in self.cited) for i, s in enumerate(self.sources, start=1)],
            "cited": self.cited,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


@dataclass
class Prepared:
    """A question ready for the generator (the first half of `ask`): what was searched, what came back, and the
    answer mode's request — None when no passage is relevant, so the reply is the IDK answer."""

    question: str
    query: str
    retrieved: list[RetrievedPassage]
    sources: list[RetrievedPassage]
    request: AnswerRequest | None
    timings: dict[str, float]
    started: float


class _part(Generic[T]):
    """A pipeline part the decorated method builds on first use (cached_property with a cache of its own, in
    `Pipeline._built`): one can be given to the constructor instead, and an index change drops those it built."""

    def __init__(self, build: Callable[[Any], T]):
        self.build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, pipeline: Any, owner: type | None = None) -> T:
        if pipeline is None:
            return self  # type: ignore[return-value]  # the descriptor itself, read from the class
        built = pipeline._built
        if self.name not in built:
            built[self.name] = self.build(pipeline)
        return built[self.name]

    def __set__(self, pipeline: Any, value: Any) -> None:
        raise AttributeError(f"Pipeline.{self.name} is built on first use; give a ready one to the constructor")


class Pipeline:
    """One index folder plus the models that read and answer from it (loaded on first use).

    `adapter` is one trained folder, or several that tune different sides (a generator LoRA and a retriever
    adapter trained separately); a joint folder tunes both. `embedder`, `generator` and `rerankers` are models
    already loaded (shared across pipelines, or one being trained); left out, the config's are loaded when
    first needed.
    """

    def __init__(self, index_dir: str | Path, config: Config | None = None,
                 adapter: str | Path | Sequence[str | Path] | None = None, *, embedder: Embedder | None = None,
                 generator: Generator | None = None, rerankers: dict[str, Reranker] | None = None,
                 progress: bool = True):
        self.index_dir = as_location(index_dir)
        self.config = config or Config()
        self.adapter = adapter
        self.adapters = [] if adapter is None else [Path(adapter)] if isinstance(adapter, (str, Path)) else [
            Path(a) for a in adapter]
        self.progress = progress
        self._given_rerankers = rerankers
        given = {"embedder": embedder, "generator": generator}
        self._built: dict[str, Any] = {name: part for name, part in given.items() if part is not None}

    def loaded(self, part: str) -> bool:
        """Whether the part `part` ("store", "embedder", "generator", ...) is built (or was given)."""
        return part in self._built

    # ---- lazily built parts ---------------------------------------------------------------
    @_part
    def store(self) -> IndexBackend:
        return open_index(self.index_dir, self.config)

    @_part
    def embedder(self) -> Embedder:
        """The index's own embedder when it exists: queries must land in the passages' vector space."""
        cfg = self.config.embedder
        if index_exists(self.index_dir, self.config):
            cfg = cfg.model_copy(update={"name": index_manifest(self.index_dir, self.config)["embedder"]})
        return create_embedder(cfg, self.config.resolved_cache_dir)

    @_part
    def _adapter_sides(self) -> tuple[AdapterInfo | None, AdapterInfo | None, AdapterInfo | None]:
        sides = split_adapters([inspect_adapter(a) for a in self.adapters])
        if sides[0] is not None:
            check_generator_base(sides[0], self.config.generator.name)
        return sides

    @property
    def generator_adapter(self) -> Path | None:
        """The `--adapter` folder holding a generator LoRA (a retriever adapter leaves the generator as it is)."""
        info = self._adapter_sides[0]
        return info.folder if info is not None else None

    @property
    def retriever_adapter(self) -> AdapterInfo | None:
        """The `--adapter` folder that tunes the retriever (a query adapter, an encoder, or a joint folder)."""
        return self._adapter_sides[1]

    @property
    def reader_adapter(self) -> Path | None:
        """The `--adapter` folder holding a trained span reader (`train reader`), if any."""
        info = self._adapter_sides[2]
        return info.folder if info is not None else None

    @_part
    def query_embedder(self) -> Embedder:
        """The index's embedder for queries, through a retriever adapter when `--adapter` is one."""
        info = self.retriever_adapter
        if info is None:
            return self.embedder
        _check_retriever_adapter(info, self.store.embedder, self.index_dir)  # before loading any model
        if info.kind == ENCODER:
            return self.embedder  # the index was re-embedded with the adapter's encoder: it is the index's own
        from ragtune.index.embedders.adapted import QueryAdaptedEmbedder, load_query_weight

        return QueryAdaptedEmbedder(self.embedder, load_query_weight(info.folder / QUERY_ADAPTER_FILE,
                                                                     self.embedder.dim))

    @_part
    def rerankers(self) -> dict[str, Reranker]:
        """Question language -> reranker (models load on first use); kept when the index changes."""
        rerankers = self._given_rerankers
        if rerankers is None:
            rerankers = create_rerankers(self.config)
            # the torch generator's model scores too, unless a LoRA changed its weights
            if self.generator_adapter is None and backend_class(self.generator_backend).holds_torch_model:
                for reranker in rerankers.values():
                    reranker.use_generator(lambda: self.generator)
        return rerankers

    @_part
    def retriever(self) -> HybridRetriever | GraphRetriever:
        """What `ask` retrieves with: the adapted query embedder, fitted fusion weight, and rerankers."""
        _ = self.rerankers  # first: they check the adapters, which must fail before an index is loaded
        return self.retriever_over(self.store)

    def retriever_over(self, store: IndexBackend) -> HybridRetriever | GraphRetriever:
        """The retriever `ask` uses, over `store` (another snapshot of this index): the same models; with
        `retrieval.graph`, fused with a walk over the index's knowledge graph (ask/graph_retrieval.py)."""
        hybrid = HybridRetriever(store, self.query_embedder, self.retrieval_config, self.rerankers)
        return graph_retriever(hybrid, self.index_dir) if self.config.retrieval.graph else hybrid

    @_part
    def base_retriever(self) -> HybridRetriever:
        """The index's own retriever, no adapter and no reranker: the frozen retriever joint training starts from."""
        return HybridRetriever(self.store, self.embedder, self.config.retrieval, rerankers={})

    @property
    def retrieval_config(self) -> RetrievalConfig:
        """The config's retrieval settings, with the fusion weight a retriever adapter fitted on its held-out
        questions (`train retriever`), unless the config sets `retrieval.dense_weight` itself."""
        retrieval = self.config.retrieval
        info = self.retriever_adapter
        fitted = (info.meta.get("fusion") or {}) if info is not None else {}
        if retrieval.dense_weight is None and "dense_weight" in fitted:
            ratio = fitted["dense_weight"] / fitted.get("bm25_weight", 1.0)  # kept against the config's BM25 weight
            retrieval = retrieval.model_copy(update={"dense_weight": ratio * retrieval.bm25_weight})
        return retrieval

    @_part
    def generator_backend(self) -> str:
        """The backend the generator runs on (`generator.backend`, `auto` resolved): nothing is loaded."""
        return resolve_backend(self.config, self.generator_adapter)

    @_part
    def generator(self) -> Generator:
        return create_generator(self.config, adapter=self.generator_adapter)

    @_part
    def prompt_budget(self) -> PromptBudget | None:
        """How many tokens a prompt may take: the loaded generator's, else read from its tokenizer and config
        files alone (eval's cache keys need prompts before, or without, loading the model)."""
        if self.loaded("generator"):
            return getattr(self.generator, "budget", None)
        return load_prompt_budget(self.config.generator, self.config.resolved_cache_dir)

    @_part
    def answerer(self) -> Answerer:
        """The configured answer mode, over this pipeline's generator (loaded only when it first answers)."""
        return create_answerer(self.config, lambda: self.generator, reader=self.reader_adapter,
                               budget=lambda: self.prompt_budget)

    def generation_cache(self) -> GenerationCache:
        """The on-disk cache of this pipeline's generated answers: keyed by its generator, adapter, answer length
        and precision, so eval and synth reruns generate only what is new."""
        cfg = self.config.generator
        return GenerationCache(self.config.resolved_cache_dir, cfg.name, self.generator_adapter, cfg.max_new_tokens,
                               backend_class(self.generator_backend).cache_key(cfg))

    def _reset_index(self) -> None:
        for name in INDEX_PARTS:
            self._built.pop(name, None)

    # ---- read -----------------------------------------------------------------------------
    def read(self, paths: list[str | Path], ray: str | None = None) -> ReadReport:
        """Add or update files; `ray`: load, chunk and embed on Ray (an address, or "local" for in-process)."""
        if ray is not None:
            from ragtune.index.distributed import read_paths_ray

            report = read_paths_ray(self.index_dir, paths, self.config, self.embedder, ray, progress=self.progress)
        else:
            report = read_paths(self.index_dir, paths, self.config, self.embedder, progress=self.progress)
        self._reset_index()
        return report

    def delete(self, paths: list[str | Path]) -> ReadReport:
        report = delete_paths(self.index_dir, paths, self.config)
        self._reset_index()
        return report

    def optimize(self) -> ReadReport:
        """Compact the index in place (`ragtune index optimize`)."""
        report = optimize_index(self.index_dir, self.config)
        self._reset_index()
        return report

    def reembed(self, embedder: str | Path) -> ReadReport:
        """Re-encode every stored passage with another embedder (e.g. a re-trained encoder), atomically."""
        cfg = self.config.embedder.model_copy(update={"name": embedder_name(str(embedder))})
        new = create_embedder(cfg, self.config.resolved_cache_dir)
        report = reembed_index(self.index_dir, new, progress=self.progress, config=self.config)
        self._built["embedder"] = new
        self._reset_index()
        return report

    # ---- ask ------------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None, history: list[Message] | None = None
                 ) -> list[RetrievedPassage]:
        """The top `k` passages for `question`; a follow-up is searched as `search_query` makes it."""
        query = self.search_query(question, history)  # checks the question before an index is loaded
        return self.retriever.retrieve(query, k)

    def search_query(self, question: str, history: list[Message] | None = None) -> str:
        """What is searched for `question` after the turns in `history` (`retrieval.followups`): the question
        itself, the question after the previous user turn, or the question with the conversation's subject (as the
        generator names it) in its pronoun's place (ask/followup.py)."""
        return self.search_queries([question], [history or []])[0]

    def needs_generator(self, history: list[Message] | None) -> bool:
        """Whether `search_query` asks the generator (a follow-up under `retrieval.followups: rewrite`)."""
        return self.config.retrieval.followups == "rewrite" and followup.needs_rewrite(history)

    def search_queries(self, questions: Sequence[str], histories: Sequence[list[Message]]) -> list[str]:
        """`search_query` for many questions at once, the subjects named in the generator's batches."""
        for question in questions:
            check_question(question, self.config.retrieval.max_question_chars)
        mode = self.config.retrieval.followups
        queries = list(questions)
        todo = [i for i, history in enumerate(histories) if mode != "none" and followup.needs_rewrite(history)]
        if mode == "concat":
            for i in todo:
                queries[i] = followup.concatenated(questions[i], histories[i])
        elif todo:
            prompts = [followup.subject_messages(questions[i], histories[i]) for i in todo]
            for i, generated in zip(todo, self.generator.generate(prompts), strict=True):
                queries[i] = followup.standalone(questions[i], histories[i], generated)
        return queries

    def retrieve_many(self, questions: Sequence[str], k: int | None = None, *, base: bool = False,
                      progress: bool | None = None) -> list[list[RetrievedPassage]]:
        """The top `k` passages for each question, RETRIEVE_BATCH questions embedded at a time, behind a
        progress bar. Questions are searched as given (`ask_many` checks them; eval leaves bad ones out first).
        `base`: through `base_retriever`, the index's own retriever without adapter or reranker."""
        if not questions:
            return []
        retriever = self.base_retriever if base else self.retriever
        results: list[list[RetrievedPassage]] = []
        with progress_bar(total=len(questions), desc="retrieving", unit="question", leave=False,
                          enabled=self.progress if progress is None else progress) as bar:
            for start in range(0, len(questions), RETRIEVE_BATCH):
                chunk = list(questions[start : start + RETRIEVE_BATCH])
                results.extend(retriever.retrieve_many(chunk, k))
                bar.update(len(chunk))
        return results

    def request(self, question: str, sources: list[RetrievedPassage], history: list[Message] | None = None
                ) -> AnswerRequest:
        check_question(question, self.config.retrieval.max_question_chars)
        return AnswerRequest(question, [(s.passage.title, s.passage.text) for s in sources], list(history or []),
                             [s.score for s in sources])

    def messages(self, question: str, sources: list[RetrievedPassage], history: list[Message] | None = None
                 ) -> list[Message]:
        return self.answerer.messages(self.request(question, sources, history))

    def prepare(self, question: str, k: int | None = None, history: list[Message] | None = None,
                retrieve: Callable[[str, int | None], list[RetrievedPassage]] | None = None) -> Prepared:
        """Everything `ask` does before generating: the follow-up made standalone, retrieval, the request.
        `retrieve`: another search over this index (the server's batched one, over the snapshot it serves)."""
        start = time.perf_counter()
        query = self.search_query(question, history)
        timings = {"rewrite_s": time.perf_counter() - start} if query != question else {}
        retrieved = (retrieve or self.retriever.retrieve)(query, k)
        timings["retrieve_s"] = time.perf_counter() - start - timings.get("rewrite_s", 0.0)
        sources = answer_sources(retrieved)
        request = self.request(question, sources, history) if sources else None
        return Prepared(question, query, retrieved, sources, request, timings, start)

    def ask(self, question: str, k: int | None = None, history: list[Message] | None = None,
            on_token: Callable[[str], None] | None = None) -> Answer:
        """Retrieve, then generate; `on_token` receives the answer as it streams."""
        prepared = self.prepare(question, k, history)
        timings = prepared.timings
        if prepared.request is None:
            text = idk_answer(question)
            if on_token:
                on_token(text)
            return Answer(question, text, prepared.retrieved, [], timings, prepared.query)
        gen_start = time.perf_counter()
        pieces: list[str] = []
        for piece in self.answerer.stream(prepared.request):
            if "first_token_s" not in timings and piece:
                timings["first_token_s"] = time.perf_counter() - gen_start
            pieces.append(piece)
            if on_token:
                on_token(piece)
        timings["generate_s"] = time.perf_counter() - gen_start
        text = "".join(pieces).strip()
        return Answer(question, text, prepared.sources, cited_numbers(text, len(prepared.sources)), timings,
                      prepared.query)

    def ask_many(self, questions: Sequence[str], k: int | None = None, *,
                 retrieved: Sequence[list[RetrievedPassage]] | None = None, cache: GenerationCache | None = None,
                 progress: bool | None = None) -> list[Answer]:
        """`ask` for many questions at once, each answer the one `ask` gives: retrieval in batches, then
        generation in the answer mode's batches (nothing streams, and `timings` stay empty).

        `retrieved` are rankings the caller already has (eval retrieves deeper for its metrics), answered from
        their top `k`; `cache` keeps generated answers on disk, so a rerun generates only what is new.
        """
        for question in questions:
            check_question(question, self.config.retrieval.max_question_chars)
        progress = self.progress if progress is None else progress
        if retrieved is None:
            retrieved = self.retrieve_many(questions, k, progress=progress)
        k = k or self.config.retrieval.top_k
        answers: list[Answer] = []
        requests: list[AnswerRequest] = []
        rows: list[int] = []
        for question, ranked in zip(questions, retrieved, strict=True):
            sources = answer_sources(ranked[:k])
            if sources:
                rows.append(len(answers))
                requests.append(self.request(question, sources))
                answers.append(Answer(question, "", sources))
            else:  # as `ask`: no relevant passage, so the IDK reply beside what was retrieved
                answers.append(Answer(question, idk_answer(question), ranked[:k]))
        for row, text in zip(rows, self._answer(requests, cache, progress), strict=True):
            answers[row].answer = text
            answers[row].cited = cited_numbers(text, len(answers[row].sources))
        return answers

    def _answer(self, requests: list[AnswerRequest], cache: GenerationCache | None, progress: bool) -> list[str]:
        """The answer mode's batched answers to `requests`; the models load only for what `cache` lacks."""
        if not requests:
            return []
        answerer = self.answerer
        if cache is None:
            return answerer.answer(requests, progress=progress)
        return cache.generate(requests, lambda todo, save: answerer.answer(todo, progress=progress, on_batch=save),
                              key_material=[answerer.cache_key(r) for r in requests])


def _check_retriever_adapter(info: AdapterInfo, index_embedder: str, index_dir: Path) -> None:
    """A query adapter fits only its own embedder's index; a new encoder only an index re-embedded with it."""
    if info.kind == ENCODER and embedder_name(index_embedder) != str(info.encoder_path):
        raise RagtuneError(f"{info.folder}: this adapter re-trained the passage encoder; run `ragtune read "
                           f"--reembed --embedder {info.folder / ENCODER_DIR} --index {index_dir}` first")
    trained_on = info.meta.get("embedder")
    if info.retriever_kind == QUERY_ADAPTER and trained_on != index_embedder:
        raise RagtuneError(f"{info.folder}: query adapter trained for embedder {trained_on!r}, but the index at "
                           f"{index_dir} uses {index_embedder!r}")


def answer_sources(retrieved: list[RetrievedPassage]) -> list[RetrievedPassage]:
    """The retrieved passages a generator may answer from (ask and eval share this rule)."""
    return [s for s in retrieved if s.relevant]

