"""`ragtune read --ray`: loading, chunking and embedding as a Ray Data pipeline; this process alone writes.

Files are loaded and chunked by Ray tasks (`flat_map`), their passages embedded and tokenised by a pool of
actors that each hold the embedder (`map_batches`), and the results stream back in file order to the process
that holds the index's write lock. It queues them exactly as the single-process read does (`add_source`) and
writes each batch with the same writer (`write_embedded`), so both paths make the same index and a kill leaves
the last saved snapshot live. Imported only when `--ray` is given: Ray is an optional extra.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ragtune.config import ChunkingConfig, Config, EmbedderConfig, RayConfig, ReadConfig
from ragtune.errors import LoadError, RagtuneError
from ragtune.index.backends import write_lock
from ragtune.index.embedders import Embedder, create_embedder
from ragtune.index.indexer import PassageBatch, ReadReport, add_source, known_sha, open_or_create
from ragtune.index.passage import Passage
from ragtune.index.script import script_normalizer
from ragtune.index.store import looks_like_index
from ragtune.index.tokenize import tokenize
from ragtune.progress import progress_bar
from ragtune.read.ingest import discover, load_source, source_key

#: `--ray` with no address: a Ray instance started inside this process, whatever cluster runs elsewhere
IN_PROCESS = "local"
#: what `--ray` accepts as a cluster address (anything else is taken for a path to read)
ADDRESS = re.compile(r"(auto|local|ray://\S+|[\w.\-]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5})")
#: about what one passage row weighs (a 400-token chunk's text and fields), to size blocks to embedding batches
BYTES_PER_ROW = 1024
#: one row per file ("file" or "error") ahead of its passages ("passage"); every row has every column
_EMPTY_ROW = {"file": 0, "kind": "", "key": "", "path": "", "sha256": "", "documents": 0, "problem": "",
              "id": "", "chunk": 0, "title": "", "text": ""}


def is_address(value: str) -> bool:
    """Whether `value` names a Ray cluster (host:port, auto, local, ray://...) rather than a file."""
    return ADDRESS.fullmatch(value) is not None


def read_paths_ray(folder: Path, paths: list[str | Path], config: Config, embedder: Embedder,
                   address: str = IN_PROCESS, progress: bool = True) -> ReadReport:
    """`read_paths` with the loading, chunking and embedding on Ray; the same index comes out."""
    start = time.perf_counter()
    report = ReadReport()
    files, report.errors = discover(paths, is_index=looks_like_index)
    with write_lock(folder, config=config):
        store = open_or_create(folder, config, embedder)
        entries = [store.sources.get(source_key(path)) for path, _ in files]
        jobs = [{**_EMPTY_ROW, "file": i, "path": str(path), "key": source_key(path), "id": doc_id,
                 "sha256": known_sha(entry) or ""} for i, ((path, doc_id), entry) in enumerate(zip(files, entries))]
        batch = _EmbeddedBatch(store, embedder, report, config.index.save_every_passages, progress)
        if jobs:
            with _connected(address, config.ray):
                rows = _pipeline(jobs, config, store.script, embedder.name)
                bar = progress_bar(total=len(jobs), desc="reading files (Ray)", unit="file", enabled=progress,
                                   leave=False)
                with bar:
                    for head, passages in _by_file(rows):
                        bar.update(1)
                        if head["kind"] == "error":
                            report.errors.append(LoadError(head["path"], head["problem"]))
                            continue
                        batch.encoded = {(p.id, p.chunk): encoded for p, encoded in passages}
                        add_source(batch, head["key"], entries[head["file"]], head["sha256"], head["path"],
                                   head["documents"], iter([p for p, _ in passages]))
        batch.flush()
    report.passages_total = len(store)
    report.seconds = time.perf_counter() - start
    return report


class _EmbeddedBatch(PassageBatch):
    """A batch whose passages arrive embedded and tokenised: `encode` looks them up instead of computing."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.encoded: dict[tuple[str, int], tuple[np.ndarray, list[str]]] = {}
        self.held: list[tuple[np.ndarray, list[str]]] = []

    def add(self, key: str, meta: dict, passages: Iterator[Passage], replace_old: bool) -> None:
        # a batch may flush mid-file, after `self.encoded` moved on: keep each passage's encoding beside it
        super().add(key, meta, self._holding(passages), replace_old)

    def _holding(self, passages: Iterator[Passage]) -> Iterator[Passage]:
        for passage in passages:
            self.held.append(self.encoded[(passage.id, passage.chunk)])
            yield passage

    def encode(self, passages: list[Passage]) -> tuple[np.ndarray, list[list[str]]]:
        held, self.held = self.held[:len(passages)], self.held[len(passages):]
        vectors = np.asarray([v for v, _ in held], np.float32).reshape(len(held), self.embedder.dim)
        return vectors, [t for _, t in held]


def _by_file(rows: Iterator[dict]) -> Iterator[tuple[dict, list[tuple[Passage, tuple[np.ndarray, list[str]]]]]]:
    """The pipeline's rows (in file order) grouped: each file's head row and its embedded passages."""
    head: dict | None = None
    passages: list = []
    for row in rows:
        if row["kind"] == "passage":
            passage = Passage(row["id"], int(row["chunk"]), row["title"], row["text"], row["key"])
            passages.append((passage, (row["vector"], json.loads(row["tokens"]))))
            continue
        if head is not None:
            yield head, passages
        head, passages = {k: row[k] for k in ("file", "kind", "key", "path", "sha256", "documents", "problem")}, []
        head["file"], head["documents"] = int(head["file"]), int(head["documents"])
    if head is not None:
        yield head, passages


# ---- what runs on the cluster ---------------------------------------------------------------------------------
def _load_rows(job: dict, limits: ReadConfig, chunking: ChunkingConfig) -> list[dict]:
    """A Ray task: one file hashed, parsed and chunked into a head row and one row per passage."""
    head = {**job, "kind": "file", "id": "", "sha256": ""}
    try:
        source = load_source(Path(job["path"]), job["id"], known_sha=job["sha256"] or None, limits=limits,
                             chunking=chunking)
    except LoadError as exc:
        return [{**head, "kind": "error", "path": exc.path, "problem": exc.problem}]
    head.update(key=source.key, sha256=source.sha256, path=str(source.path), documents=len(source.documents))
    return [head] + [{**head, "kind": "passage", "id": c.doc_id, "chunk": c.position, "title": c.title,
                      "text": c.text} for c in source.chunks]


class _EmbedActor:
    """A Ray actor holding one embedder: adds each passage row's vector and BM25 tokens (head rows get zeros)."""

    def __init__(self, embedder: EmbedderConfig, cache_dir: Path, script: str, expected: str):
        self.embedder = create_embedder(embedder, cache_dir)
        if self.embedder.name != expected:
            raise RagtuneError(f"the Ray worker's embedder is {self.embedder.name!r}, the index's {expected!r}")
        self.normalize = script_normalizer(script)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = np.flatnonzero(batch["kind"] == "passage")
        texts = [self.normalize(f"{t}\n{x}" if t else x) for t, x in zip(batch["title"][rows], batch["text"][rows])]
        vectors = np.zeros((len(batch["kind"]), self.embedder.dim), np.float32)
        vectors[rows] = self.embedder.encode_passages(texts)
        tokens = np.full(len(batch["kind"]), "[]", dtype=object)
        tokens[rows] = [json.dumps(tokenize(t), ensure_ascii=False) for t in texts]
        return {**batch, "vector": vectors, "tokens": tokens}


# ---- the driver's side ----------------------------------------------------------------------------------------
def _pipeline(jobs: list[dict], config: Config, script: str, embedder_name: str) -> Iterator[dict]:
    """The Ray Data pipeline over `jobs` (one per file), its rows streamed back in file order."""
    import ray

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its plan and timing lines; failures still raise
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # the index's order is the single-process read's
    context.enable_progress_bars = False  # ours counts files; Ray's would interleave with it
    settings = config.ray
    # blocks of about one embedding batch (passage rows are ~1 KB), so that one large file's passages are
    # spread over every actor rather than sent whole to one
    context.target_max_block_size = settings.batch_size * BYTES_PER_ROW
    threads = max(1, round(settings.cpus_per_worker))
    dataset = (
        ray.data.from_items(jobs, override_num_blocks=min(len(jobs), 200))
        .flat_map(_load_rows, fn_kwargs={"limits": config.read, "chunking": config.chunking},
                  num_cpus=settings.cpus_per_loader)
        .map_batches(_EmbedActor, batch_format="numpy", batch_size=settings.batch_size,
                     compute=ray.data.ActorPoolStrategy(size=settings.workers), num_cpus=settings.cpus_per_worker,
                     fn_constructor_kwargs={"embedder": config.embedder.model_copy(update={"name": embedder_name,
                                                                                           "threads": threads}),
                                            "cache_dir": config.resolved_cache_dir, "script": script,
                                            "expected": embedder_name})
    )
    try:
        yield from dataset.iter_rows()
    except ray.exceptions.RayError as exc:
        raise RagtuneError(f"Ray ingestion failed: {_first_line(exc)}") from None


class _connected:
    """Ray joined for the read: an in-process instance (`local`) or the cluster at an address; left after."""

    def __init__(self, address: str, settings: RayConfig):
        self.address, self.settings = address, settings

    def __enter__(self) -> None:
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # Ray's C++ core logs warnings to stderr
        try:
            import ray
        except ImportError:
            raise RagtuneError("--ray needs Ray: pip install 'ragtune[ray]'") from None
        logging.getLogger("ray").setLevel(logging.WARNING)
        needed = self.settings.workers * self.settings.cpus_per_worker + self.settings.cpus_per_loader
        options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        if self.address == IN_PROCESS:
            ray.init(address=IN_PROCESS, num_cpus=int(np.ceil(needed)), **options)
        else:
            _check_reachable(self.address, self.settings.connect_timeout)
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RagtuneError(f"cannot join the Ray cluster at {self.address}: {_first_line(exc)}") from None
            cpus = ray.cluster_resources().get("CPU", 0)
            if cpus < needed:
                ray.shutdown()
                raise RagtuneError(f"the Ray cluster at {self.address} has {cpus:g} CPUs; ray.workers × "
                                   f"ray.cpus_per_worker + ray.cpus_per_loader = {needed:g} are needed")

    def __exit__(self, *exc: object) -> None:
        import ray

        ray.shutdown()


def _check_reachable(address: str, timeout: float) -> None:
    """A host:port that answers, checked first: Ray itself retries an unreachable one for a long time."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RagtuneError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[-1] if "Traceback" in text else text.splitlines()[0]
