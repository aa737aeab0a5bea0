"""What generator query-likelihood reranking (`generator-ql`) buys and costs: retrieval quality and seconds per
question against the fused order, with the generator scoring the fused top K candidates.

Usage: python -m bench.rerank_latency [cmrc|cmrc-trad|squad ...] [--limit N] [--candidates 5,10]
       [--margins none,0.25] [--subset spread|hard] [--embedder NAME] [--script t2s|none] [--no-record]
--limit N takes every (total/N)th question, spread over the file. `--subset hard` first keeps only the questions
whose fused top 1 misses while the top 5 holds a gold passage (what a reranker of 5 can fix), so a small
sample measures fixes; `spread` (all questions) measures what it breaks. Indexes are the ones bench/retrieval_quality.py
caches under .ragtune/bench/<set>-<embedder>-<script> (built when missing). The generator loads once, before the
timed rows; its load time is reported apart. English sets also get the default cross-encoder row.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ragtune.ask.rerankers import AUTO, RERANKERS, create_reranker, create_rerankers
from ragtune.config import Config
from ragtune.eval.runner import evaluate
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions
from ragtune.text import language_of

from .common import CpuMeter, record
from .splits import RETRIEVAL_SETS, retrieval_index, traditional_cmrc_dev

METRICS = ("recall@1", "recall@5", "mrr@10")


def spread(items: list, limit: int | None) -> list:
    """Every (len/limit)th item, so a small sample covers the whole file rather than its first articles."""
    if not limit or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def run_row(index: Path, config: Config, embedder, questions, rerankers=None) -> dict:
    """Retrieval-only eval of one configuration; `rerankers` shares an already loaded model across rows."""
    pipeline = Pipeline(index, config, embedder=embedder,
                        rerankers=create_rerankers(config) if rerankers is None else rerankers, progress=False)
    with CpuMeter() as meter:
        result = evaluate(pipeline, questions, retrieval_only=True, progress=False)
    scores = result.metrics["retrieval"]
    return {**{m: scores[m] for m in METRICS}, "s_per_question": round(meter.seconds / len(questions), 3),
            "cpu_util": round(meter.cpu_util, 2)}


def hard_questions(index: Path, config: Config, embedder, questions) -> list:
    """Questions the fused order gets wrong at rank 1 but right within the top 5."""
    pipeline = Pipeline(index, config, embedder=embedder, progress=False)
    records = evaluate(pipeline, questions, retrieval_only=True, progress=False).records
    return [q for q, r in zip(questions, records)
            if r.retrieved[:1] and not q.qrels.get(r.retrieved[0]) and any(q.qrels.get(d) for d in r.retrieved[:5])]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=["cmrc"], help="of: " + ", ".join(RETRIEVAL_SETS))
    parser.add_argument("--limit", type=int, default=None, help="questions, spread over the file")
    parser.add_argument("--candidates", default="5", help="comma-separated generator_rerank.candidates to time")
    parser.add_argument("--embedder", default=Config().embedder.name)
    parser.add_argument("--script", default=Config().index.script, help="index.script of the index built")
    parser.add_argument("--margins", default="none,0.25",
                        help="generator_rerank.margin values: rerank only unsure questions ('none': all)")
    parser.add_argument("--subset", choices=["spread", "hard"], default="spread")
    parser.add_argument("--no-record", action="store_true", help="print the JSON line, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    candidates = [int(k) for k in args.candidates.split(",")]
    margins = [None if m == "none" else float(m) for m in args.margins.split(",")]
    settings = {"embedder.name": args.embedder, "index.script": args.script}
    reranker = None
    for name in args.sets:
        if name == "cmrc-trad":
            traditional_cmrc_dev()
        corpus, data, split = RETRIEVAL_SETS[name]
        index = retrieval_index(name, args.embedder, args.script)
        base = Config.load(**settings, **{"retrieval.reranker": "none"})
        reader = Pipeline(index, base, progress=False)
        report = reader.read([corpus])
        embedder = reader.embedder
        questions = load_questions(data, split)
        if args.subset == "hard":
            questions = hard_questions(index, base, embedder, questions)
        questions = spread(questions, args.limit)
        rows = {"hybrid": run_row(index, base, embedder, questions)}
        cross_encoder = AUTO["en"]
        if language_of(questions[0].text) in RERANKERS[cross_encoder].languages:
            rows[cross_encoder] = run_row(index, Config.load(**settings, **{"retrieval.reranker": cross_encoder}),
                                          embedder, questions)
        load_s = None
        if reranker is None:
            start = time.perf_counter()
            reranker = create_reranker("generator-ql", Config.load(**settings))
            reranker.load()
            load_s = round(time.perf_counter() - start, 1)
        for k in candidates:
            for margin in margins:
                reranker.candidates, reranker.margin = k, margin
                config = Config.load(**settings, **{"retrieval.reranker": "generator-ql"})
                label = f"generator-ql@{k}" + (f" margin<{margin}" if margin is not None else "")
                rows[label] = run_row(index, config, embedder, questions,
                                      {lang: reranker for lang in reranker.languages})
        result = {"bench": "rerank_latency", "set": name, "subset": args.subset, "embedder": args.embedder,
                  "script": args.script,
                  "generator": base.generator.name, "dtype": str(reranker.model.dtype).removeprefix("torch."),
                  "generator_rerank": base.retrieval.generator_rerank.model_dump(), "n": len(questions),
                  "passages": report.passages_total, "generator_load_s": load_s, "rows": rows}
        notes = ("retrieval only (eval depth 20); hybrid = fused order; generator-ql@K = the generator's mean "
                 "log p(question | passage) over the fused top K, deeper candidates in fused order; 'margin<m': "
                 "only questions whose fused leader leads the next document by less than m of its score are "
                 "reranked; s_per_question is wall time of the whole row / questions, the generator already loaded.")
        if args.no_record:
            print(json.dumps(result, ensure_ascii=False))
        else:
            record(f"rerank latency: {name} (generator-ql, {args.embedder})", result, notes=notes)


if __name__ == "__main__":
    main()
