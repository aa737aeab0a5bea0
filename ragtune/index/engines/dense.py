"""Dense vectors: an append-only float32 file (readers memory-map it) plus faiss HNSW graphs over parts of it.

Rows past the last graph (the tail) are searched exactly; when the tail reaches `exact_below` rows a graph is built
over it alone, so an add costs what it adds, and more than `max_segments` graphs are merged into one. An index
smaller than `exact_below` is therefore always searched exactly. Deleted rows stay until `optimize` rewrites the
file; a reader skips every key its catalog snapshot does not hold. Graph scores are exact inner products
(HNSWFlat), so only which rows are found is approximate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

#: bytes per key in a vector file's key column
_KEY_BYTES = 8


@dataclass(frozen=True)
class HnswParams:
    exact_below: int
    m: int
    ef_construction: int
    ef_search: int
    max_segments: int


def files(name: str) -> tuple[str, str]:
    """The vectors and keys files of vector file `name`."""
    return f"{name}.f32", f"{name}.keys"


def append(folder: Path, spec: dict, keys: np.ndarray, vectors: np.ndarray, dim: int) -> dict:
    """Append rows after the `spec["rows"]` a manifest published (cutting whatever an interrupted write left past
    them) and fsync; returns the spec with the new row count (the caller publishes it)."""
    vec_file, key_file = (folder / f for f in files(spec["file"]))
    rows = spec["rows"]
    for path, width, data in ((vec_file, dim * 4, np.ascontiguousarray(vectors, np.float32)),
                              (key_file, _KEY_BYTES, np.ascontiguousarray(keys, np.int64))):
        with open(path, "r+b" if path.exists() else "w+b") as fh:
            fh.truncate(rows * width)
            fh.seek(rows * width)
            fh.write(data.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
    return {**spec, "rows": rows + len(keys)}


@contextmanager
def omp_threads(n: int) -> Iterator[None]:
    """faiss on `n` OpenMP threads, then back to what they were. faiss shares the process's OpenMP runtime with
    torch: a setting left behind is torch's too, and once left at 1 by a search it made every later LoRA step and
    torch generation in the process run on one core."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def build_graph(vectors: np.ndarray, params: HnswParams, path: Path) -> None:
    """An HNSW graph (inner product) over `vectors`, written to `path` (a new name: readers may hold the old)."""
    graph = faiss.IndexHNSWFlat(vectors.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = params.ef_construction
    with omp_threads(os.cpu_count() or 1):  # a build uses every core, a lone query none but its own (search)
        graph.add(np.ascontiguousarray(vectors, np.float32))
    tmp = path.with_suffix(".tmp")
    faiss.write_index(graph, str(tmp))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class DenseReader:
    """The vectors of one manifest, memory-mapped; graphs mapped too (pages load as searches touch them)."""

    def __init__(self, folder: Path, spec: dict, dim: int, live_keys: np.ndarray, ef_search: int,
                 runs: list[list[int]] | None = None):
        """`runs`: the live keys as the manifest lists them ([start, end) runs), which saves a lookup per key."""
        self.dim, self.rows, self.ef_search = dim, spec["rows"], ef_search
        vec_file, key_file = (folder / f for f in files(spec["file"]))
        if self.rows:
            self.matrix = np.memmap(vec_file, np.float32, "r", shape=(self.rows, dim))
            self.keys = np.memmap(key_file, np.int64, "r", shape=(self.rows,))
        else:
            self.matrix, self.keys = np.zeros((0, dim), np.float32), np.zeros(0, np.int64)
        self.folder, self._specs, self._graphs = folder, spec["segments"], None
        for graph in self._specs:
            if not (folder / graph["graph"]).is_file():
                raise FileNotFoundError(f"{graph['graph']} is missing")
        self.tail = self._specs[-1]["end"] if self._specs else 0
        self.live_keys = live_keys
        # positions of live rows (row order = key order); everything else in the file is dead
        if len(live_keys) == self.rows and self.rows and self.keys[0] == live_keys[0] and \
                self.keys[-1] == live_keys[-1] and live_keys[-1] - live_keys[0] == self.rows - 1:
            self.live_positions = np.arange(self.rows)  # both are the same run of keys: nothing to look up
        elif runs is not None:
            # each run of live keys is one run of rows in the (sorted) key column: two lookups per run
            starts = np.searchsorted(self.keys, [a for a, _ in runs])
            ends = np.searchsorted(self.keys, [b for _, b in runs])
            self.live_positions = (np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)]) if len(runs)
                                   else np.zeros(0, np.int64))
            if len(self.live_positions) != len(live_keys):
                raise ValueError("the vector file lacks keys the catalog holds")
        else:
            self.live_positions = np.searchsorted(self.keys, live_keys) if len(live_keys) else np.zeros(0, np.int64)
            if len(live_keys) and (self.live_positions.max() >= self.rows
                                   or not np.array_equal(self.keys[self.live_positions], live_keys)):
                raise ValueError("the vector file lacks keys the catalog holds")
        self.alive = np.zeros(self.rows, bool)
        self.alive[self.live_positions] = True
        self.all_alive = len(live_keys) == self.rows

    def segments(self) -> list[tuple[int, int, faiss.Index]]:
        """The graphs, read on the first search (a writer never needs them: opening stays cheap)."""
        if self._graphs is None:
            self._graphs = [(s["start"], s["end"], faiss.read_index(str(self.folder / s["graph"]), faiss.IO_FLAG_MMAP))
                            for s in self._specs]
        return self._graphs

    def vectors(self) -> np.ndarray:
        """Live vectors by row: the mapped file itself when nothing was deleted, else a copy of the live rows."""
        return self.matrix if self.all_alive else np.asarray(self.matrix[self.live_positions])

    def rows_of(self, positions: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.live_keys, self.keys[positions])

    def positions_of(self, rows: np.ndarray) -> np.ndarray:
        return self.live_positions[rows]

    def search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        # one thread: faiss's OpenMP team waits on threads the busy cores have descheduled (measured on 2 loaded
        # cores: 48 ms against 0.08 ms for an exact top 60 of 10k x 64)
        with omp_threads(1):
            return self._search(queries, n)

    def _search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        scores = np.full((len(queries), n), -np.inf, np.float32)
        rows = np.full((len(queries), n), -1, np.int64)
        if n <= 0 or not len(self.live_keys):
            return scores[:, :0], rows[:, :0]
        dead = self.rows - len(self.live_keys)
        for i, query in enumerate(queries):
            found_pos, found_scores = [], []
            for start, end, graph in self.segments():
                want = min(end - start, n + min(dead, 4 * n))
                graph.hnsw.efSearch = max(self.ef_search, want)
                d, ids = graph.search(query[None, :], want)
                keep = ids[0] >= 0
                found_pos.append(ids[0][keep] + start)
                found_scores.append(d[0][keep])
            if self.tail < self.rows:
                # faiss's exact search, not numpy's: a lone query is a BLAS gemv, which multithreads and on busy
                # cores waits milliseconds for its threads (measured 40 ms against 0.05 ms for 8k x 64)
                take = min(self.rows - self.tail, n + min(dead, 4 * n))
                d, top = faiss.knn(query[None, :], self.matrix[self.tail:], take, metric=faiss.METRIC_INNER_PRODUCT)
                found_pos.append(top[0] + self.tail)
                found_scores.append(d[0])
            pos = np.concatenate(found_pos)
            sc = np.concatenate(found_scores)
            keep = self.alive[pos]
            pos, sc = pos[keep], sc[keep]
            order = np.lexsort((pos, -sc))[:n]
            scores[i, :len(order)] = sc[order]
            rows[i, :len(order)] = self.rows_of(pos[order])
        return scores, rows
