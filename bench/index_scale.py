"""The embedded index grown 10^4 -> 10^5 -> 10^6 passages: add cost, reader memory, hybrid latency, ANN recall.

One synthetic corpus: each passage is four sentences drawn at random from CMRC 2018 dev (Chinese) and the SQuAD
subset (English), tokenised once per sentence (jieba and the stemmer would take an hour over a million passages),
so BM25 sees real vocabularies and document frequencies. Vectors come from a fast deterministic stand-in: each
token hashes to a fixed random Gaussian vector, a passage's vector is the normalised sum of its tokens' (so
passages sharing words are near each other). At each size, in a fresh process: open the index and answer 100
hybrid queries (dense + BM25 candidates fused, no rerank); resident memory after them; recall@10 of dense_top
against an exact search over the same vectors. Adds go through the backend as `read` does (replace + commit).

    python -m bench.index_scale [--sizes 10000,100000,1000000] [--dim 64]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from bench.common import SHARED, CpuMeter, memory_mb, record, run_child

SOURCES = [SHARED / "cmrc2018" / "cmrc2018_dev.json", SHARED / "expmrc-squad" / "expmrc-squad-dev.json"]
SENTENCES_PER_PASSAGE = 4
PASSAGES_PER_SOURCE = 100
_SPLIT = re.compile(r"(?<=[。！？!?])|(?<=\.)\s+")
_BUCKETS = 1 << 18


def sentences() -> tuple[list[str], list[list[str]]]:
    """Every sentence of the public sets (>= 8 characters) and its BM25 tokens, cut once."""
    from ragtune.index.tokenize import tokenize

    texts = []
    for path in SOURCES:
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                texts += [s.strip() for s in _SPLIT.split(paragraph["context"]) if len(s.strip()) >= 8]
    return texts, [tokenize(t) for t in texts]


class HashedEmbedder:
    """Random projection of hashed tokens: deterministic, fast, and near for passages that share words."""

    name = "hashed-tokens"
    dense_weight = 1.0

    def __init__(self, dim: int):
        self.dim = dim
        self.table = np.random.default_rng(7).standard_normal((_BUCKETS, dim)).astype(np.float32)

    def of_tokens(self, tokens: list[str]) -> np.ndarray:
        ids = [zlib.crc32(t.encode("utf-8", "surrogatepass")) % _BUCKETS for t in tokens]
        vector = self.table[ids].sum(0) if ids else np.zeros(self.dim, np.float32)
        return vector

    def encode_queries(self, texts: list[str], progress: bool = False) -> np.ndarray:
        from ragtune.index.tokenize import tokenize

        return _normalised(np.stack([self.of_tokens(tokenize(t)) for t in texts]))


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)).astype(np.float32)


class Corpus:
    """Passages made from sentence indexes: the n-th passage is the same in every run."""

    def __init__(self, dim: int):
        self.texts, self.tokens = sentences()
        self.embedder = HashedEmbedder(dim)
        self.sentence_vectors = np.stack([self.embedder.of_tokens(t) for t in self.tokens])

    def batch(self, start: int, stop: int):
        from ragtune.index.passage import Passage

        picks = np.random.default_rng(start).integers(0, len(self.texts), (stop - start, SENTENCES_PER_PASSAGE))
        passages, tokens = [], []
        for n, row in zip(range(start, stop), picks.tolist()):
            source = f"/synthetic/file{n // PASSAGES_PER_SOURCE:06d}.txt"
            passages.append(Passage(f"p{n}", 0, "", " ".join(self.texts[i] for i in row), source))
            tokens.append([t for i in row for t in self.tokens[i]])
        vectors = _normalised(self.sentence_vectors[picks].sum(1))
        sources = {p.source: {"sha256": p.source, "path": p.source, "documents": PASSAGES_PER_SOURCE}
                   for p in passages}
        return sources, passages, vectors, tokens


def add(folder: Path, corpus: Corpus, start: int, stop: int) -> dict:
    """Open, add passages start..stop as `read` would, commit; the times of each part."""
    from ragtune.index.backends.embedded import EmbeddedIndex

    sources, passages, vectors, tokens = corpus.batch(start, stop)
    with EmbeddedIndex.write_lock(folder):
        began = time.perf_counter()
        if EmbeddedIndex.exists(folder):
            index = EmbeddedIndex.open(folder)
        else:
            from ragtune.config import Config

            index = EmbeddedIndex.create(folder, Config(), corpus.embedder.name, corpus.embedder.dim)
        opened = time.perf_counter()
        index.replace(set(), sources, passages, vectors, tokens)
        index.commit()
        done = time.perf_counter()
    return {"open_s": round(opened - began, 3), "add_commit_s": round(done - opened, 3),
            "total_s": round(done - began, 3), "segments": len(index._manifest["vectors"]["segments"])}


def delete_one_source(folder: Path, source: str) -> float:
    from ragtune.index.backends.embedded import EmbeddedIndex

    with EmbeddedIndex.write_lock(folder):
        began = time.perf_counter()
        index = EmbeddedIndex.open(folder)
        index.replace({source}, {}, [], np.zeros((0, index.dim), np.float32), [])
        index.commit()
        return round(time.perf_counter() - began, 3)


def probe(folder: Path, dim: int, queries: list[str], ef_search: int | None = None) -> dict:
    """In a fresh process: open, answer the queries (hybrid, no rerank), memory after, ANN recall@10."""
    from ragtune.ask.retriever import HybridRetriever
    from ragtune.config import Config
    from ragtune.index.backends.embedded import EmbeddedIndex

    began = time.perf_counter()
    index = EmbeddedIndex.open(folder, Config.load(**{"index.hnsw_ef_search": ef_search}) if ef_search else None)
    open_s = time.perf_counter() - began
    embedder = HashedEmbedder(dim)
    retriever = HybridRetriever(index, embedder, Config.load(**{"retrieval.reranker": "none"}).retrieval, rerankers={})
    retriever.retrieve(queries[0], 10, rerank=False)  # first touch of the engines, not counted
    times = []
    for query in queries:
        start = time.perf_counter()
        retriever.retrieve(query, 10, rerank=False)
        times.append(time.perf_counter() - start)
    status = memory_mb()
    vectors = embedder.encode_queries(queries)
    approx_times = []
    found = []
    for vector in vectors:
        start = time.perf_counter()
        found.append(index.dense_top(vector[None, :], 10)[1][0])
        approx_times.append(time.perf_counter() - start)
    matrix = index.vectors()
    scores = np.concatenate([np.asarray(matrix[start:start + 200_000]) @ vectors.T
                             for start in range(0, len(matrix), 200_000)])
    truth = np.argpartition(-scores, 9, axis=0)[:10].T  # the exact top 10 of each query, as a set
    recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)]))
    # how close the found ten are: their exact scores' sum over the exact top ten's (1.0 when only ties swapped)
    ratio = float(np.mean([scores[f, i].sum() / scores[t, i].sum() for i, (t, f) in enumerate(zip(truth, found))]))
    return {"passages": len(index), "open_s": round(open_s, 3),
            "hybrid_p50_ms": round(1000 * float(np.percentile(times, 50)), 2),
            "hybrid_p95_ms": round(1000 * float(np.percentile(times, 95)), 2),
            "dense_p50_ms": round(1000 * float(np.percentile(approx_times, 50)), 2),
            "rss_mb": status["VmRSS"], "peak_rss_mb": status["VmHWM"], "ann_recall@10": round(recall, 4),
            "ann_score_ratio@10": round(ratio, 5),
            "graphs": len(index._manifest["vectors"]["segments"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--folder", type=Path, default=None, help="keep the index here (default: a temp folder)")
    parser.add_argument("--probe", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--ef-search", type=int, default=None, help="index.hnsw_ef_search of the probes "
                        "(default: the config's)")
    parser.add_argument("--reuse", action="store_true", help="grow the index --folder already holds (no bulk "
                        "load up to its size): measure a big size again without rebuilding it")
    args = parser.parse_args()
    if args.probe is not None:
        print(json.dumps(probe(args.probe, args.dim, json.loads(args.queries.read_text(encoding="utf-8")),
                               args.ef_search)))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="index-scale-"))
    folder = args.folder or work / "index"
    if not args.reuse:
        shutil.rmtree(folder, ignore_errors=True)
    with CpuMeter() as prep:
        corpus = Corpus(args.dim)
    rng = np.random.default_rng(11)
    # questions stand-in: the first half of a sentence (so neither retriever sees a verbatim passage)
    picks = rng.choice(len(corpus.texts), 100, replace=False)
    queries = [corpus.texts[i][: max(8, len(corpus.texts[i]) // 2)] for i in picks.tolist()]
    (work / "queries.json").write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    print(f"{len(corpus.texts)} sentences tokenised in {prep.seconds:.1f}s", flush=True)

    rows, current = [], 0
    if args.reuse:
        from ragtune.index.backends.embedded import EmbeddedIndex

        current = EmbeddedIndex.manifest(folder)["next_key"]  # passage numbers continue past every key used
        sizes = [max(size, current + 1000) for size in sizes]
    with CpuMeter() as whole:
        for size in sizes:
            with CpuMeter() as bulk:
                grown = add(folder, corpus, current, size - 1000) if size - 1000 > current else {}
            added = add(folder, corpus, size - 1000, size)
            delete_s = delete_one_source(folder, f"/synthetic/file{(size - 1000) // PASSAGES_PER_SOURCE:06d}.txt")
            readd = add(folder, corpus, size - 1000, size - 1000 + PASSAGES_PER_SOURCE)  # the same 100 back
            probed = run_child("bench.index_scale", ["--probe", str(folder), "--queries", str(work / "queries.json"),
                                                     "--dim", str(args.dim),
                                                     *(["--ef-search", str(args.ef_search)] if args.ef_search else [])])
            disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            row = {"size": size, "bulk_s": round(bulk.seconds, 1), "bulk_graphs_after": grown.get("segments"),
                   "add_1000": added, "delete_100_s": delete_s, "readd_100_s": readd["total_s"],
                   "disk_mb": round(disk / 2**20), **probed}
            rows.append(row)
            print(json.dumps(row), flush=True)
            current = size
    result = {"bench": "index_scale", "ef_search": args.ef_search or "config default",
              "dim": args.dim, "reused_index": args.reuse, "sentences": len(corpus.texts),
              "rows": rows,
              "seconds": round(whole.seconds, 1), "load_before": round(whole.load, 2)}
    if args.no_record:
        print(json.dumps(result))
    else:
        record("Embedded index at scale (issue 23)", result,
               "synthetic corpus (4 random CMRC dev / SQuAD sentences per passage, tokens cut once per sentence), "
               f"hashed-token random-projection vectors of {args.dim} dims; add_1000 = open + replace + commit of "
               "1,000 new passages as `read` does (embedding excluded); probe = a fresh process opening the index "
               "and answering 100 hybrid queries (HybridRetriever, no rerank), RSS after them; ann_recall@10 = "
               "dense_top against exact search over the same vectors")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
