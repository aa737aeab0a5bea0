"""Retrieval quality on the public sets: BM25-only, dense-only, hybrid and hybrid+rerank rows in one run.

Usage: python -m bench.retrieval_quality [scifact|cmrc|cmrc-trad|squad ...] [--embedder NAME] [--limit N]
       [--rows a,b] [--script t2s|none]
Indexes are cached under .ragtune/bench/<set>-<embedder>-<script> (rebuilt when missing). `cmrc-trad` is CMRC 2018
dev converted to Traditional Chinese (Taiwan usage, OpenCC s2twp), questions and passages alike.
"""

from __future__ import annotations

import argparse
import time

from ragtune.config import Config
from ragtune.eval.runner import evaluate
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

from .common import record
from .splits import RETRIEVAL_SETS, retrieval_index, traditional_cmrc_dev

VARIANTS = {
    "bm25": {"retrieval.dense_weight": 0.0, "retrieval.bm25_weight": 1.0, "retrieval.reranker": "none"},
    "dense": {"retrieval.dense_weight": 1.0, "retrieval.bm25_weight": 0.0, "retrieval.reranker": "none"},
    "hybrid": {"retrieval.reranker": "none"},
    "hybrid+rerank": {},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=list(RETRIEVAL_SETS))
    parser.add_argument("--embedder", default=Config().embedder.name)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--rows", default=",".join(VARIANTS), help="comma-separated subset of " + ", ".join(VARIANTS))
    parser.add_argument("--script", default=Config().index.script, help="index.script of the index built")
    args = parser.parse_args()
    for name in args.sets:
        if name == "cmrc-trad":
            traditional_cmrc_dev()
        corpus, data, split = RETRIEVAL_SETS[name]
        index = retrieval_index(name, args.embedder, args.script)
        base = Config.load(**{"embedder.name": args.embedder, "index.script": args.script})
        start = time.perf_counter()
        report = Pipeline(index, base, progress=False).read([corpus])
        questions = load_questions(data, split)[: args.limit]
        rows = {}
        for variant, overrides in VARIANTS.items():
            if variant not in args.rows.split(","):
                continue
            config = Config.load(**{"embedder.name": args.embedder, "index.script": args.script, **overrides})
            t0 = time.perf_counter()
            result = evaluate(Pipeline(index, config, progress=False), questions, retrieval_only=True, progress=False)
            rows[variant] = {**result.metrics["retrieval"], "seconds": round(time.perf_counter() - t0, 1)}
        record(
            f"retrieval quality: {name} ({args.embedder}, script {args.script})",
            {"bench": "retrieval_quality", "set": name, "split": split, "embedder": args.embedder,
             "script": args.script,
             "n": len(questions), "passages": report.passages_total,
             "index_s": round(time.perf_counter() - start, 1), "rows": rows},
            notes="rows: BM25 alone, dense alone, fused (config defaults), fused + the default reranker (auto: "
            "the ms-marco cross-encoder for English, generator-ql on unsure Chinese questions). SciFact uses the "
            "train qrels (test qrels are not in ../shared).",
        )


if __name__ == "__main__":
    main()
