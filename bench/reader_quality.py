"""Which reader answers best? Answer modes and adapters on the same questions and indexes, through the CLI.

Usage: python -m bench.reader_quality [cmrc squad duie] [--limit 100]
           [--runs generative extractive reader=DIR generative=DIR ...]

A run is an answer mode, optionally with `=ADAPTER` (a generator LoRA or a `train reader` folder). Every run
is one `ragtune eval --answer-mode MODE [--adapter DIR] --json` on the set's test file and open-corpus index:

- cmrc: the 500 CMRC 2018 dev questions bench/generator_tuning.py scores (every 6th), against all 848 dev
  paragraphs; CMRC training data never enters the index.
- squad: the English SQuAD subset's odd-numbered articles (the even ones are its training half), against all its
  paragraphs.
- duie: questions asked of DuIE 2.0 relation triples (bench/splits.py duie_qa), against all 1,000 sentences:
  Chinese text from elsewhere, that no adapter here is trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .common import ROOT, commands, record
from .common import run_cli as run
from .splits import duie_qa, qa_split

WORK = ROOT / ".ragtune" / "bench" / "reader-quality"


def prepare(name: str, log: list[str]) -> tuple[Path, Path]:
    """(test file, index folder) for a set, the index read (incrementally) from its corpus."""
    if name == "duie":
        test = corpus = duie_qa()
    else:
        paths = qa_split(name, WORK / name, train_articles=0, eval_questions=500)
        test, corpus = paths["test"], paths["eval_corpus"]
    index = WORK / name / "index"
    run(["read", str(corpus), "--index", str(index)], log)
    return test, index


def answer_latency(index: Path, test: Path, mode: str, adapter: str, n: int, backend: str = "auto"
                   ) -> float | None:
    """Median seconds `ask` spends answering (retrieval excluded) over `n` questions, models loaded first."""
    if n <= 0:
        return None
    from ragtune.config import Config
    from ragtune.pipeline import Pipeline
    from ragtune.read.questions import load_questions

    config = Config(generator={"answer_mode": mode, "backend": backend})
    pipeline = Pipeline(index, config, adapter=adapter or None, progress=False)
    questions = [q.text for q in load_questions(test)[: n + 1]]
    pipeline.ask(questions[0])  # loads the models
    times = sorted(pipeline.ask(q).timings.get("generate_s", 0.0) for q in questions[1:])
    return round(times[len(times) // 2], 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=["cmrc", "squad", "duie"])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--runs", nargs="+", default=["generative", "extractive"])
    parser.add_argument("--latency", type=int, default=10, help="questions timed through `ask` per run (0: none)")
    parser.add_argument("--backend", default="auto", help="generator.backend of every run (torch: as before 21)")
    parser.add_argument("--config", help="a YAML config for every eval run (e.g. retrieval.reranker_zh: none)")
    args = parser.parse_args()
    log: list[str] = []
    table = []
    for name in args.sets:
        test, index = prepare(name, log)
        for run_name in args.runs:
            mode, _, adapter = run_name.partition("=")
            extra = (["--adapter", adapter] if adapter else []) + ["--backend", args.backend]
            extra += ["--config", args.config] if args.config else []
            start = time.perf_counter()
            out = run(["eval", str(test), "--index", str(index), "--limit", str(args.limit), "--answer-mode", mode,
                       *extra, "--json", "--report", str(WORK / name / "report"), "--name",
                       f"{mode}{'+' + Path(adapter).name if adapter else ''}"], log)
            metrics = json.loads(out)
            seconds = time.perf_counter() - start
            table.append({"set": name, "run": run_name, "n": metrics["n"], **metrics.get("answer", {}),
                          **metrics.get("grounding", {}), "recall@5": metrics["retrieval"]["recall@5"],
                          "eval_s_per_question": round(seconds / metrics["n"], 2),
                          "backend": args.backend,
                          "answer_s_median": answer_latency(index, test, mode, adapter, args.latency, args.backend)})
            print(json.dumps(table[-1], ensure_ascii=False), file=sys.stderr, flush=True)
    record(f"reader quality: {', '.join(args.sets)} ({args.limit} questions each)",
           {"bench": "reader_quality", "limit": args.limit, "table": table},
           notes="EM/F1 0-100 (CMRC 2018 scorer for Chinese questions, SQuAD v1.1 for English); grounded/abstained "
           "in %; eval_s_per_question is the eval command's wall time per question (model load included; answers "
           "cached by an earlier run make it short); answer_s_median is the median time `ask` spent answering "
           "(retrieval excluded, models loaded) over --latency questions. Commands: "
           + commands(log))


if __name__ == "__main__":
    main()
