"""Building and updating an index's knowledge graph: each passage's triples, extracted by the generator.

A build diffs the index's passages against what the graph recorded (each passage's content hash): triples of
deleted or changed passages go, new and changed passages are extracted, and everything lands in one graph
transaction. Extraction is batched and goes through the generation cache (keyed by the prompt — the passage text
and the extraction instructions — and the generator, adapter and answer length), so a rebuild, or a re-read of
passages that did not change, generates nothing. `read` on an index with a graph runs the same update
(`graph.update_on_read`) with the settings the graph was built with.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.graph.schema import Schema, load_schema
from ragtune.graph.store import GraphPassage, GraphStore, graph_lock, graph_path
from ragtune.graph.triples import Triple, extraction_messages, parse_triples
from ragtune.pipeline import Pipeline
from ragtune.progress import progress_bar
from ragtune.text import language_of


@dataclass
class GraphReport:
    """What a build or an update did, and the graph's size after it."""

    passages: int = 0
    triples: int = 0
    entities: int = 0
    extracted: int = 0
    removed: int = 0
    unchanged: int = 0
    generated: int = 0
    seconds: float = 0.0
    version: str = ""

    def to_json(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3)}

    def line(self) -> str:
        return (f"graph: {self.passages} passages, {self.triples} triples, {self.entities} entities "
                f"(extracted {self.extracted}, {self.generated} generated; removed {self.removed}; unchanged "
                f"{self.unchanged}) in {self.seconds:.1f}s")


@dataclass(frozen=True)
class Extraction:
    """How triples are extracted: recorded in the graph, so updates extract as the build did."""

    generator: str
    adapter: str | None
    max_new_tokens: int
    schema: dict[str, list[str]] | None  # predicate -> [subject_type, object_type]
    schema_file: str | None
    limit: int | None

    @property
    def fingerprint(self) -> str:
        """What decides a passage's triples; a graph built otherwise is extracted again (from the cache where
        the answers are known)."""
        decides = [self.generator, self.adapter, self.max_new_tokens, self.schema]
        return hashlib.sha256(json.dumps(decides, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]

    def settings(self) -> dict:
        return {**asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def recorded(cls, settings: dict) -> Extraction:
        fields = {k: settings.get(k) for k in cls.__dataclass_fields__}
        return cls(**fields)

    @property
    def schema_object(self) -> Schema | None:
        return None if self.schema is None else Schema({p: tuple(t) for p, t in self.schema.items()})


def extraction_for(config: Config, adapter: str | Path | None, schema: str | Path | None, limit: int | None,
                   previous: Extraction | None = None) -> Extraction:
    """The settings of a build: what it is given, else what the graph was built with."""
    if previous is not None:
        adapter = previous.adapter if adapter is None else adapter
        limit = previous.limit if limit is None else limit
    if schema is not None:
        loaded = load_schema(schema)
        schema_map, schema_file = {p: list(t) for p, t in loaded.predicates.items()}, str(Path(schema).resolve())
    elif previous is not None:
        schema_map, schema_file = previous.schema, previous.schema_file
    else:
        schema_map, schema_file = None, None
    adapter = None if adapter is None else str(Path(adapter).expanduser().resolve())
    return Extraction(config.generator.name, adapter, config.graph.max_new_tokens, schema_map, schema_file, limit)


def build_graph(index_dir: str | Path, config: Config, *, adapter: str | Path | None = None,
                schema: str | Path | None = None, limit: int | None = None, progress: bool = True) -> GraphReport:
    """Bring the index's graph up to date with its passages (a first build makes it). `adapter`, `schema` and
    `limit` (the graph covers the index's first `limit` passages) default to what the graph was built with."""
    start = time.perf_counter()
    graph_path(index_dir)  # a URL index: a one-line error before anything loads
    if limit is not None and limit <= 0:
        raise RagtuneError(f"--limit {limit}: give a positive number of passages")
    with graph_lock(index_dir):
        graph = GraphStore.open(index_dir)
        try:
            previous = Extraction.recorded(graph.settings) if graph is not None else None
            known, version = (graph.passages(), graph.version()) if graph is not None else ({}, None)
        finally:
            if graph is not None:
                graph.close()
        extraction = extraction_for(config, adapter, schema, limit, previous)
        redo = previous is not None and previous.fingerprint != extraction.fingerprint
        pipeline = _extraction_pipeline(index_dir, config, extraction, progress)
        current = _current_passages(pipeline, extraction.limit)
        removed = [k for k, p in known.items() if redo or k not in current or current[k][0].sha256 != p.sha256]
        todo = [item for k, item in current.items() if redo or k not in known or known[k].sha256 != item[0].sha256]
        report = GraphReport(extracted=len(todo), removed=len(set(removed) - {p.key for p, _ in todo}),
                             unchanged=len(current) - len(todo))
        triples = extract_triples(pipeline, [text for _, text in todo], extraction.schema_object, config, progress,
                                  report)
        added = [(passage, found, text) for (passage, text), found in zip(todo, triples, strict=True)]
        if removed or added or graph is None or redo or previous != extraction:
            report.version = GraphStore.write(index_dir, removed, added, extraction.settings(), expected=version)
    with GraphStore.open(index_dir) as graph:
        report.__dict__.update(graph.counts())
        report.version = graph.version()
    report.seconds = time.perf_counter() - start
    return report


def update_after_read(pipeline: Pipeline, progress: bool = True) -> GraphReport | None:
    """After `read`/`read --delete`: the graph brought up to date, when the index has one and
    `graph.update_on_read` is on (None otherwise)."""
    if not pipeline.config.graph.update_on_read or not GraphStore.exists(pipeline.index_dir):
        return None
    return build_graph(pipeline.index_dir, pipeline.config, progress=progress)


def extract_triples(pipeline: Pipeline, texts: list[str], schema: Schema | None, config: Config,
                    progress: bool = True, report: GraphReport | None = None) -> list[list[Triple]]:
    """Each text's triples: prompts in its own language, generated in batches through the generation cache
    (a step's answers are stored as it ends: an interrupted build resumes there), parsed and validated."""
    prompts = [extraction_messages(text, language_of(text), schema) for text in texts]
    cache = pipeline.generation_cache()
    step = config.graph.step_passages
    found: list[list[Triple]] = []
    with progress_bar(total=len(prompts), desc="extracting triples", unit="passage", enabled=progress) as bar:
        for at in range(0, len(prompts), step):
            batch = prompts[at:at + step]
            misses = cache.misses
            outputs = cache.generate(batch, lambda todo, save: pipeline.generator.generate(
                todo, progress=progress, on_batch=save))
            if report is not None:
                report.generated += cache.misses - misses
            found += [parse_triples(out, schema, text) for out, text in zip(outputs, texts[at:at + step])]
            bar.update(len(batch))
    return found


def _extraction_pipeline(index_dir: str | Path, config: Config, extraction: Extraction, progress: bool) -> Pipeline:
    """A pipeline over the index whose generator answers with the extraction's model, adapter and length (its
    models load only if something is to be generated)."""
    generator = config.generator.model_copy(update={"max_new_tokens": extraction.max_new_tokens,
                                                    "name": extraction.generator})
    return Pipeline(index_dir, config.model_copy(update={"generator": generator}), extraction.adapter,
                    progress=progress)


def _current_passages(pipeline: Pipeline, limit: int | None) -> dict[str, tuple[GraphPassage, str]]:
    """Passage key -> (what the graph records of it, the text extracted from: the passage text, where spans point;
    a file title such as "notes" only misleads the model) for the index's passages."""
    current: dict[str, tuple[GraphPassage, str]] = {}
    for passage in pipeline.store.passages:
        if limit is not None and len(current) >= limit:
            break
        record = GraphPassage.of(passage)
        current[record.key] = (record, passage.text)
    return current
