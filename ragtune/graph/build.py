"""Building and updating an index's knowledge graph: each passage's triples, extracted by the generator.

A build diffs the index's passages against what the graph recorded (each passage's content hash): triples of
deleted or changed passages go, new and changed passages are extracted, and everything lands in one graph
transaction. Extraction is `--task extract`'s (graph/extractor.py: the prompt a tuned adapter learnt, the `extract:`
settings), batched and through the generation cache (keyed by the prompt — the passage text
and the extraction instructions — and the generator, adapter and answer length), so a rebuild, or a re-read of
passages that did not change, generates nothing. `read` on an index with a graph runs the same update
(`graph.update_on_read`) with the settings the graph was built with.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import MISSING, asdict, dataclass
from pathlib import Path

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.graph.extractor import extract_config, extract_many, voting_settings
from ragtune.graph.schema import Schema, load_schema
from ragtune.graph.triples import Triple
from ragtune.index.backends import index_exists
from ragtune.index.graph.store import GraphPassage, GraphStore, graph_lock
from ragtune.pipeline import Pipeline
from ragtune.progress import progress_bar


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
class ExtractionSettings:
    """How triples are extracted: recorded in the graph, so updates extract as the build did."""

    generator: str
    adapter: str | None
    max_new_tokens: int
    max_text_units: int
    grounded: bool
    schema: dict[str, list[str]] | None  # predicate -> [subject_type, object_type]
    schema_file: str | None
    limit: int | None
    #: extract.decoding and its candidates' settings (None: one greedy extraction, as graphs built before
    #: voting existed were)
    voting: dict | None = None

    @property
    def fingerprint(self) -> str:
        """What decides a passage's triples; a graph built otherwise is extracted again (from the cache where
        the answers are known)."""
        decides = [self.generator, self.adapter, self.max_new_tokens, self.max_text_units, self.grounded, self.schema]
        if self.voting is not None:  # a greedy graph keeps the fingerprint it was built with
            decides.append(self.voting)
        return hashlib.sha256(json.dumps(decides, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]

    def settings(self) -> dict:
        return {**asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def recorded(cls, settings: dict) -> ExtractionSettings | None:
        """The settings a graph recorded (None: a graph written without them, which the next build redoes)."""
        fields = cls.__dataclass_fields__
        if not all(k in settings for k, f in fields.items() if f.default is MISSING):
            return None
        return cls(**{k: settings[k] for k in fields if k in settings})

    @property
    def schema_object(self) -> Schema | None:
        return None if self.schema is None else Schema({p: tuple(t) for p, t in self.schema.items()})

    def config(self, config: Config) -> Config:
        """`config` extracting as these settings say (generator, its answer length, the extract: section)."""
        extract = config.extract.model_copy(update={"max_new_tokens": self.max_new_tokens, "grounded": self.grounded,
                                                    "max_text_units": self.max_text_units,
                                                    "schema_file": self.schema_file,
                                                    **(self.voting or {"decoding": "greedy"})})
        generator = config.generator.model_copy(update={"name": self.generator})
        return extract_config(config.model_copy(update={"extract": extract, "generator": generator}))


def extraction_for(config: Config, adapter: str | Path | None, schema: str | Path | None, limit: int | None,
                   previous: ExtractionSettings | None = None) -> ExtractionSettings:
    """The settings of a build: what it is given, else what the graph was built with (adapter, schema, limit),
    else the config (generator and `extract:`)."""
    if previous is not None:
        adapter = previous.adapter if adapter is None else adapter
        limit = previous.limit if limit is None else limit
    if schema is None and previous is None:
        schema = config.extract.schema_file
    if schema is not None:
        loaded = load_schema(schema)
        schema_map, schema_file = {p: list(t) for p, t in loaded.predicates.items()}, str(Path(schema).resolve())
    elif previous is not None:
        schema_map, schema_file = previous.schema, previous.schema_file
    else:
        schema_map, schema_file = None, None
    adapter = None if adapter is None else str(Path(adapter).expanduser().resolve())
    c = config.extract
    return ExtractionSettings(config.generator.name, adapter, c.max_new_tokens, c.max_text_units, c.grounded,
                              schema_map, schema_file, limit, voting_settings(c, adapter))


def build_graph(index_dir: str | Path, config: Config, *, adapter: str | Path | None = None,
                schema: str | Path | None = None, limit: int | None = None, progress: bool = True,
                as_recorded: bool = False) -> GraphReport:
    """Bring the index's graph up to date with its passages (a first build makes it). `adapter`, `schema` and
    `limit` (the graph covers the index's first `limit` passages) default to what the graph was built with, the
    generator and `extract:` settings to the config's; `as_recorded`: every setting as the graph recorded it
    (what `read` does, so an update extracts as the build did)."""
    start = time.perf_counter()
    if not index_exists(index_dir, config):
        raise RagtuneError(f"{index_dir}: no index here; run `ragtune read PATH... --index {index_dir}` first")
    if limit is not None and limit <= 0:
        raise RagtuneError(f"--limit {limit}: give a positive number of passages")
    with graph_lock(index_dir):
        graph = GraphStore.open(index_dir)
        try:
            previous = ExtractionSettings.recorded(graph.settings) if graph is not None else None
            known, version = (graph.passages(), graph.version()) if graph is not None else ({}, None)
        finally:
            if graph is not None:
                graph.close()
        extraction = previous if as_recorded and previous is not None else extraction_for(
            config, adapter, schema, limit, previous)
        redo = graph is not None and (previous is None or previous.fingerprint != extraction.fingerprint)
        pipeline = _extraction_pipeline(index_dir, config, extraction, progress)
        current = _current_passages(pipeline, extraction.limit)
        removed = [k for k, p in known.items() if redo or k not in current or current[k][0].sha256 != p.sha256]
        todo = [item for k, item in current.items() if redo or k not in known or known[k].sha256 != item[0].sha256]
        report = GraphReport(extracted=len(todo), removed=len(set(removed) - {p.key for p, _ in todo}),
                             unchanged=len(current) - len(todo))
        triples = extract_triples(pipeline, [text for _, text in todo], extraction.schema_object, progress, report)
        added = [(passage, found, text) for (passage, text), found in zip(todo, triples, strict=True)]
        if removed or added or graph is None or redo or previous != extraction:
            report.version = GraphStore.write(index_dir, removed, added, extraction.settings(), expected=version)
    with GraphStore.open(index_dir) as graph:
        counts = graph.counts()
        report.passages, report.triples, report.entities = counts["passages"], counts["triples"], counts["entities"]
        report.version = graph.version()
    report.seconds = time.perf_counter() - start
    return report


def update_after_read(pipeline: Pipeline, progress: bool = True) -> GraphReport | None:
    """After `read`/`read --delete`: the graph brought up to date, when the index has one and
    `graph.update_on_read` is on (None otherwise)."""
    if not pipeline.config.graph.update_on_read or not GraphStore.exists(pipeline.index_dir):
        return None
    try:
        return build_graph(pipeline.index_dir, pipeline.config, progress=progress, as_recorded=True)
    except RagtuneError as exc:
        raise RagtuneError(f"the index was updated, its graph was not: {exc} (then run `ragtune graph build "
                           f"--index {pipeline.index_dir}`)") from exc


def extract_triples(pipeline: Pipeline, texts: list[str], schema: Schema | None, progress: bool = True,
                    report: GraphReport | None = None) -> list[list[Triple]]:
    """Each text's triples with `--task extract`'s prompt and parser (graph/extractor.py: batched, through the
    generation cache), a step of `graph.step_passages` at a time so the bar moves and each step's answers are
    stored as it ends (an interrupted build resumes there)."""
    cache = pipeline.generation_cache()
    step = pipeline.config.graph.step_passages
    found: list[list[Triple]] = []
    with progress_bar(total=len(texts), desc="extracting triples", unit="passage", enabled=progress) as bar:
        for at in range(0, len(texts), step):
            batch = texts[at:at + step]
            found += [e.triples for e in extract_many(pipeline, batch, schema, progress=progress, cache=cache)]
            bar.update(len(batch))
    if report is not None:
        report.generated += cache.misses  # the prompts the cache could not answer
    return found


def _extraction_pipeline(index_dir: str | Path, config: Config, extraction: ExtractionSettings,
                         progress: bool) -> Pipeline:
    """A pipeline over the index whose generator extracts as `extraction` says (its models load only if
    something is to be generated)."""
    return Pipeline(index_dir, extraction.config(config), extraction.adapter, progress=progress)


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
