"""Does training retriever and generator together help? Base vs separately tuned vs jointly tuned, in one table.

Usage: python -m bench.joint_tuning [cmrc] [squad] [--steps N] [--mode sequence|token] [--eval-questions N]
       [--train-articles N] [--stages ...]

Per set, every stage runs the real CLI and is skipped when its output already exists. The work folder is
bench/generator_tuning.py's (.ragtune/bench/generator-tuning/<set>/), so the data, the indexes, the base RAG
result and the tuned generator adapter are the ones that benchmark made, and are not made twice:

- rag: the base retriever and generator (`ragtune eval --json`), i.e. generator_tuning's `rag` row.
- separate: `ragtune train retriever` (query adapter, its own defaults) plus generator_tuning's LoRA adapter
  (`ragtune train generator`, bench/generator_tuning.yaml, --steps) on the same training questions, evaluated
  together with `--adapter GEN --adapter RETRIEVER`.
- joint: `ragtune train joint --mode M --max-steps N` on the same questions with `train_joint.batch_size` 8, so
  it takes as many optimizer steps and sees as many questions as the generator run; evaluated with
  `--adapter JOINT`.

Data: cmrc trains on the first --train-articles articles of the CMRC 2018 pseudo training zip (indexed on
their own) and evaluates every 6th dev question against all dev paragraphs; squad splits the English SQuAD
subset by article (even = train, odd = test) over one index. The last stage records one table: EM/F1 and
recall@1/5/20 per set and condition.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import commands, record, run_cli
from .splits import qa_split
from .stages import WORK, eval_stage, read_indexes, train_stage

JOINT_CONFIG = Path(__file__).resolve().parent / "joint_tuning.yaml"
SETS = ["cmrc", "squad"]
STAGES = ["rag", "train-retriever", "train-generator", "rag+separate", "train-joint", "rag+joint", "record"]
CONDITIONS = {"rag": "base", "rag+separate": "separate", "rag+joint": "joint"}


def bench_set(name: str, args, log: list[str]) -> Path:
    work = WORK / name
    paths = qa_split(name, work, args.train_articles, args.eval_questions)
    train_index = read_indexes(work, paths, log)
    retriever, generator, joint = work / "adapter-retriever", work / "adapter", work / "adapter-joint"

    if "rag" in args.stages:
        eval_stage("rag", paths, work, log, [])
    if "train-retriever" in args.stages and not (retriever / "ragtune.json").exists():
        run_cli(["train", "retriever", str(paths["train"]), "--index", str(train_index), "--out", str(retriever)], log)
    if "train-generator" in args.stages:
        train_stage(paths["train"], train_index, generator, args.steps, log)
    if "rag+separate" in args.stages:
        eval_stage("rag+separate", paths, work, log, ["--adapter", str(generator), "--adapter", str(retriever)])
    if "train-joint" in args.stages and not (joint / "ragtune.json").exists():
        resume = ["--resume"] if (joint / "checkpoint").exists() else []  # an interrupted run goes on
        run_cli(["train", "joint", str(paths["train"]), "--index", str(train_index), "--out", str(joint),
             "--mode", args.mode, "--max-steps", str(args.steps), "--config", str(JOINT_CONFIG), *resume], log)
    if "rag+joint" in args.stages:
        eval_stage("rag+joint", paths, work, log, ["--adapter", str(joint)])
    return work


def table(name: str, work: Path) -> list[dict]:
    rows = []
    for stage, condition in CONDITIONS.items():
        result = work / f"eval-{stage}.json"
        if not result.exists():
            continue
        metrics = json.loads(result.read_text())
        answer, retrieval = metrics.get("answer", {}), metrics.get("retrieval", {})
        carried = {key: metrics[key] for key in ("from", "retrieval_from") if key in metrics}  # earlier runs
        rows.append({"set": name, "condition": condition, "n": metrics["n"], "em": answer.get("em"),
                     "f1": answer.get("f1"), **{m: retrieval.get(m) for m in ("recall@1", "recall@5", "recall@20")},
                     **carried})
    return rows


def training(work: Path) -> dict:
    """What each tuned condition cost and, for the joint run, how p(z|q) and the gold passage's rank moved."""
    found = {}
    for name, folder in (("retriever", "adapter-retriever"), ("generator", "adapter"), ("joint", "adapter-joint")):
        path = work / folder / "ragtune.json"
        if not path.exists():
            continue
        meta = json.loads(path.read_text())
        entry = {"steps": meta.get("steps", meta.get("step")), "train_minutes": round(meta["train_seconds"] / 60, 1)}
        if meta.get("kind") == "joint":
            entry.update(mode=meta["mode"], temperature=meta["temperature"], first=meta["first"], last=meta["last"])
        found[name] = entry
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=SETS, choices=SETS)
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps of the generator and joint runs "
                        "(the generator adapter is generator_tuning.py's: give the same --steps)")
    parser.add_argument("--mode", default="sequence", choices=["sequence", "token"])
    parser.add_argument("--train-articles", type=int, default=300, help="cmrc: training articles from the zip")
    parser.add_argument("--eval-questions", type=int, default=500)
    parser.add_argument("--stages", nargs="*", default=STAGES, choices=STAGES)
    args = parser.parse_args()

    log: list[str] = []
    works = {name: bench_set(name, args, log) for name in args.sets}
    if "record" not in args.stages:
        return
    rows = [row for name, work in works.items() for row in table(name, work)]
    record(f"joint tuning: base vs separate vs joint ({', '.join(args.sets)})",
           {"bench": "joint_tuning", "mode": args.mode, "steps": args.steps, "table": rows,
            "training": {name: training(work) for name, work in works.items()}},
           notes="same `ragtune eval --json` command and eval index for every condition; EM/F1 0-100, recall@k "
           "0-1; separate = `--adapter GEN --adapter RETRIEVER`, joint = one `ragtune train joint` folder. "
           "Commands: " + commands(log))


if __name__ == "__main__":
    main()
