"""Answer quality: closed-book vs RAG (vs RAG with an adapter) on the same questions, same index, one run.

Usage: python -m bench.answer_quality [cmrc|squad|duie ...] [--limit 100] [--adapter DIR]
Uses the indexes bench/retrieval_quality.py builds (.ragtune/bench/<set>-<embedder>); `duie` (questions generated from
DuIE 2.0 triples, bench/splits.py duie_qa) is written under .ragtune/bench/ on first use and indexed here.
"""

from __future__ import annotations

import argparse

from ragtune.config import Config
from ragtune.eval.report import write_report
from ragtune.eval.runner import evaluate
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

from .common import ROOT, SHARED, CpuMeter, record
from .splits import duie_qa

# set name -> the SQuAD file, called only for the sets asked for (duie's is generated on the call)
SETS = {
    "cmrc": lambda: SHARED / "cmrc2018" / "cmrc2018_dev.json",
    "squad": lambda: SHARED / "expmrc-squad" / "expmrc-squad-dev.json",
    "duie": duie_qa,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=list(SETS))
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--adapter", default=None)
    args = parser.parse_args()
    config = Config()
    for name in args.sets:
        index = ROOT / ".ragtune" / "bench" / f"{name}-{config.embedder.name}"
        path = SETS[name]()
        Pipeline(index, config, progress=False).read([path])
        # every 7th question: spread over articles instead of the first few
        questions = load_questions(path)[::7][: args.limit]
        runs = {"closed-book": dict(closed_book=True), "rag": {}}
        if args.adapter:
            runs["rag+adapter"] = dict(adapter=args.adapter)
        rows = {}
        for run, options in runs.items():
            pipeline = Pipeline(index, config, adapter=options.pop("adapter", None), progress=False)
            with CpuMeter() as meter:
                result = evaluate(pipeline, questions, progress=False, **options)
            # predictions.jsonl lets bench/rescore.py re-score these answers without generating them again
            write_report(result, ROOT / ".ragtune" / "bench" / "answer-quality" / name, run)
            rows[run] = {**result.metrics.get("answer", {}), **result.metrics.get("grounding", {}),
                         "scored_as": result.metrics.get("scored_as"),
                         "recall@5": result.metrics.get("retrieval", {}).get("recall@5"),
                         "seconds": round(meter.seconds, 1), "cpu_util": round(meter.cpu_util, 2)}
        record(
            f"answer quality: {name} ({len(questions)} questions)",
            {"bench": "answer_quality", "set": name, "n": len(questions), "generator": config.generator.name,
             "rows": rows},
            notes="EM/F1/ROUGE-L/BLEU 0-100 (official SQuAD / CMRC scoring); grounded/abstained in %; generated "
            "answers are cached, so `seconds` is only meaningful on a cold cache.",
        )


if __name__ == "__main__":
    main()
