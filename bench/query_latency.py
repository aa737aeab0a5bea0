"""Query latency p50/p95 over 1,000 queries on an index of ≥100k passages.

The real passages of CMRC 2018 dev, the SQuAD subset and SciFact are embedded once; the index is then grown
to the target size with perturbed copies (vector noise, dropped tokens) so that re-embedding 100k passages on
2 cores is not needed to measure search. Queries are the real questions/claims of those sets.

Usage: python -m bench.query_latency [--size 100000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ragtune.ask.retriever import HybridRetriever
from ragtune.config import Config
from ragtune.index.backends import open_index
from ragtune.index.store import IndexStore, Passage
from ragtune.index.tokenize import tokenize
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

from .common import ROOT, SHARED, CpuMeter, record


def grown_store(folder: Path, size: int, seed: int = 0) -> IndexStore:
    config = Config()
    bench = ROOT / ".ragtune" / "bench"
    # the same cached indexes bench/retrieval_quality.py builds
    sources = [(bench / f"cmrc-{config.embedder.name}", SHARED / "cmrc2018" / "cmrc2018_dev.json"),
               (bench / f"squad-{config.embedder.name}", SHARED / "expmrc-squad" / "expmrc-squad-dev.json"),
               (bench / f"scifact-{config.embedder.name}", SHARED / "scifact")]
    passages, vectors, tokens = [], [], []
    for index, corpus in sources:
        Pipeline(index, config, progress=True).read([corpus])
        store = open_index(index)
        passages += store.passages
        vectors.append(np.asarray(store.vectors()))
        # the embedded index keeps tokens in its catalog for compaction only; cut them again as `read` did
        tokens += [tokenize(store.search_text(p.embedding_text)) for p in store.passages]
    base = np.vstack(vectors)
    rng = np.random.default_rng(seed)
    out_p, out_v, out_t = list(passages), [base], list(tokens)
    copy = 0
    while sum(len(v) for v in out_v) < size:
        copy += 1
        noisy = base + rng.normal(0, 0.02, base.shape).astype(np.float32)
        out_v.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        for p, t in zip(passages, tokens):
            out_p.append(Passage(f"{p.id}~{copy}", p.chunk, p.title, p.text, p.source))
            keep = rng.random(len(t)) > 0.2
            out_t.append([w for w, k in zip(t, keep) if k])
    store = IndexStore(folder, config.embedder.name, base.shape[1], config.index.vector_backend,
                       config.index.bm25_k1, config.index.bm25_b)
    store.replace(set(), {}, out_p[:size], np.vstack(out_v)[:size], out_t[:size])
    store.save()
    return IndexStore.load(folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    questions = [q.text for q in load_questions(SHARED / "cmrc2018" / "cmrc2018_dev.json")[:400]]
    questions += [q.text for q in load_questions(SHARED / "expmrc-squad" / "expmrc-squad-dev.json")[:300]]
    questions += [q.text for q in load_questions(SHARED / "scifact", "train")[:300]]
    questions = questions[: args.queries]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = grown_store(Path(tmp) / "index", args.size)
        build_s = time.perf_counter() - t0
        rows = {}
        for name, reranker in (("hybrid", "none"), ("hybrid+rerank(en)", Config().retrieval.reranker)):
            config = Config.load(**{"retrieval.reranker": reranker})
            pipeline = Pipeline(store.folder, config, progress=False)
            retriever = HybridRetriever(store, pipeline.embedder, config.retrieval)
            # the reranker only runs on English questions: time it on the SQuAD ones
            queries = questions if reranker == "none" else questions[400:600]
            retriever.retrieve(queries[0])  # warm-up: page in the vectors
            times = []
            with CpuMeter() as meter:
                for q in queries:
                    start = time.perf_counter()
                    retriever.retrieve(q, 5)
                    times.append((time.perf_counter() - start) * 1000)
            rows[name] = {"queries": len(queries), "p50_ms": round(float(np.percentile(times, 50)), 2),
                          "p95_ms": round(float(np.percentile(times, 95)), 2), "cpu_util": round(meter.cpu_util, 2)}
    record(
        f"query latency ({len(store)} passages)",
        {"bench": "query_latency", "passages": len(store), "build_s": round(build_s, 1), "rows": rows},
        notes="end to end per query: query embedding (USE) + exact dense search + BM25 + fusion (+ cross-encoder "
        "on 20 candidates in the rerank row, measured on 200 English SQuAD questions); goal p50 <= 20 ms "
        "for hybrid.",
    )


if __name__ == "__main__":
    main()
