"""Uploads read into the index by one background worker, while questions go on being answered.

An upload is saved under `<index>/uploads/<job id>/` with a name the server makes (a number and a cleaned form
of the original name, never the name itself), then read file by file through the same code as `ragtune read`
(the index's write lock: a `read` in another process waits its turn, nothing is lost). Each file's save is a
new snapshot, which the service's view picks up; a job reports per-file progress and one-line errors.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.errors import RagtuneError, first_line
from ragtune.index.indexer import delete_paths, read_paths
from ragtune.read.loaders import LOADERS
from ragtune.workers import OnDemandQueue

UPLOADS = "uploads"
#: finished jobs kept for `GET /v1/jobs/{id}` (the oldest are forgotten first)
KEEP_JOBS = 200
_UNSAFE = re.compile(r"[^\w\-]+", re.UNICODE)


def safe_name(number: int, original: str) -> str:
    """`<number>-<cleaned stem><ext>`: letters, digits, `_` and `-` of the original's last component only, so
    no upload can name a path; the extension (what picks the loader) is kept when `read` knows it."""
    base = original.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = f".{ext.lower()}" if f".{ext.lower()}" in LOADERS else ""
    cleaned = _UNSAFE.sub("_", stem).strip("_.")[:80] or "upload"
    return f"{number}-{cleaned}{ext}"


def accepted(original: str) -> bool:
    """Whether `read` has a loader for this file name's extension (the content is checked when it is read)."""
    return Path(original.replace("\\", "/")).suffix.lower() in LOADERS


@dataclass
class FileStatus:
    name: str
    status: str = "pending"  # pending | ok | error
    error: str | None = None
    passages: int = 0


@dataclass
class Job:
    id: str
    files: list[FileStatus]
    folder: Path
    status: str = "queued"  # queued | running | done | failed
    message: str | None = None
    passages_added: int = 0
    created: float = field(default_factory=time.time)

    def to_json(self) -> dict:
        done = sum(f.status != "pending" for f in self.files)
        return {"id": self.id, "status": self.status, "total": len(self.files), "done": done,
                "passages_added": self.passages_added, "message": self.message,
                "files": [{"name": f.name, "status": f.status, "error": f.error, "passages": f.passages}
                          for f in self.files]}


class Ingestion:
    """The upload queue and its one worker thread (reads run one at a time: the index has one writer)."""

    def __init__(self, service):
        self.service = service
        self.index_dir = service.index_dir
        #: uploaded files stay where `read` recorded them: in the index folder, or the cache for a database index
        self.uploads: Path = (self.index_dir / UPLOADS if isinstance(self.index_dir, Path)
                              else service.config.resolved_cache_dir / UPLOADS)
        self.jobs: dict[str, Job] = {}
        self.queue: OnDemandQueue[tuple[Job, list[Path]]] = OnDemandQueue("ingestion", self._handle)
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return self.queue.waiting

    def submit(self, uploads: list[tuple[str, bytes]]) -> Job:
        """Save `(original name, content)` pairs under a new job's folder and queue them for reading."""
        job_id = uuid.uuid4().hex[:16]
        folder = self.uploads / job_id
        folder.mkdir(parents=True)
        files, paths = [], []
        for number, (original, content) in enumerate(uploads, start=1):
            path = folder / safe_name(number, original)
            path.write_bytes(content)
            files.append(FileStatus(original))
            paths.append(path)
        job = Job(job_id, files, folder)
        with self._lock:
            self.jobs[job_id] = job
            for old in sorted(self.jobs.values(), key=lambda j: j.created)[: max(0, len(self.jobs) - KEEP_JOBS)]:
                if old.status in ("done", "failed"):
                    del self.jobs[old.id]
        self.queue.put((job, paths))
        return job

    def _handle(self, work: tuple[Job, list[Path]]) -> None:
        job, paths = work
        job.status = "running"
        try:
            self._read(job, paths)
            job.message = self._update_graph()
            job.status = "done"
        except Exception as exc:  # noqa: BLE001 - the job reports it; the worker serves the next one
            job.status, job.message = "failed", first_line(exc)
        self.service.refresh()

    def _read(self, job: Job, paths: list[Path]) -> None:
        pipeline = self.service.pipeline
        for status, path in zip(job.files, paths):
            report = read_paths(self.index_dir, [path], pipeline.config, pipeline.embedder, progress=False)
            if report.errors:
                error = report.errors[0]
                status.status, status.error = "error", _without_path(getattr(error, "problem", str(error)), path,
                                                                     status.name)
                path.unlink(missing_ok=True)
            else:
                status.status, status.passages = "ok", report.passages_added
                job.passages_added += report.passages_added
            self.service.refresh()

    def delete(self, source: str) -> int:
        """Remove one source (an uploaded file, or any file `read` added); returns the passages removed."""
        report = delete_paths(self.index_dir, [source])
        if report.errors:
            raise RagtuneError(str(report.errors[0]))
        path = Path(source)
        if _inside(path, self.uploads):
            path.unlink(missing_ok=True)
            if path.parent.exists() and not any(path.parent.iterdir()):
                shutil.rmtree(path.parent, ignore_errors=True)
        self.service.refresh()
        self._update_graph()
        return report.passages_removed

    def _update_graph(self) -> str | None:
        """The index's knowledge graph brought up to date as `ragtune read` does (graph.update_on_read): its
        counts line, or why it was not updated (the files are read either way)."""
        from ragtune.graph.build import update_after_read

        try:
            report = update_after_read(self.service.pipeline, progress=False)
        except RagtuneError as exc:
            return f"graph not updated: {first_line(exc)}"
        return report.line() if report is not None else None


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _without_path(message: str, path: Path, name: str) -> str:
    """A read error names the saved file; the user knows it by the name they uploaded."""
    return message.replace(str(path), name).replace(path.name, name)
