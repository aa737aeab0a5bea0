"""How much context does the generator need? F1 and eval time against top_k and passage trimming, one run.

Usage: python -m bench.context_size [--sets cmrc squad] [--limit 100] [--backend openvino:int8]
           [--grid 5:320 3:320 8:320 5:160 5:240]

Each grid point `K:T` is one `ragtune eval --limit N --top-k K` with `generator.max_passage_tokens: T` (each
passage shown cut to T units) on the reader-quality test file and open-corpus index (bench/reader_quality.py),
no cached answers, Chinese questions in fused order (as bench/generation_backends.py runs it). Prompt tokens
are the mean over the questions of the prompt the generator is given (its tokenizer's count). The default
(top_k 5, 320 units) is the baseline each row is compared with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import commands, record
from .generation_backends import eval_run
from .reader_quality import prepare


def mean_prompt_tokens(test: Path, index: Path, limit: int, top_k: int, units: int) -> float:
    """The generator's token count of each question's prompt, averaged (retrieval as eval does it)."""
    from ragtune.config import Config
    from ragtune.pipeline import Pipeline, answer_sources
    from ragtune.read.questions import load_questions

    config = Config(retrieval={"reranker_zh": "none", "top_k": top_k}, generator={"max_passage_tokens": units})
    pipeline = Pipeline(index, config, progress=False)
    questions = [q.text for q in load_questions(test)[:limit]]
    budget = pipeline.prompt_budget
    counts = [budget.count(pipeline.messages(q, answer_sources(r)))
              for q, r in zip(questions, pipeline.retrieve_many(questions, top_k, progress=False))]
    return round(sum(counts) / len(counts), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="*", default=["cmrc", "squad"])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--backend", default="openvino:int8")
    parser.add_argument("--grid", nargs="+", default=["5:320", "3:320", "8:320", "5:160", "5:240"])
    args = parser.parse_args()
    log: list[str] = []
    rows = []
    for name in args.sets:
        test, index = prepare(name, log)
        base = None
        for point in args.grid:
            top_k, units = (int(x) for x in point.split(":"))
            row = eval_run(test, index, args.backend, args.limit, None, log, top_k=top_k,
                           generator={"max_passage_tokens": units})
            row = {"set": name, "top_k": top_k, "max_passage_tokens": units,
                   "prompt_tokens": mean_prompt_tokens(test, index, args.limit, top_k, units), **row}
            base = base or row
            row["f1_vs_default"] = round(row["f1"] - base["f1"], 1)
            row["time_vs_default"] = round(row["eval_s"] / base["eval_s"], 2)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    record(f"context size: top_k and passage trimming against F1 ({args.backend}, {args.limit} questions)",
           {"bench": "context_size", "backend": args.backend, "limit": args.limit, "rows": rows},
           notes="each row one `ragtune eval` with no cached answers (wall time includes model load and retrieval; "
           "Chinese questions in fused order); the first grid point (the default, top_k 5 and 320 units) is the "
           "baseline of f1_vs_default and time_vs_default. Commands: " + commands(log))


if __name__ == "__main__":
    main()
