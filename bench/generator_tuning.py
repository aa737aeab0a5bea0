"""Does fine-tuning the generator help? closed-book vs RAG vs RAG + tuned adapter vs RAG + synth-tuned adapter.

Usage: python -m bench.generator_tuning cmrc|squad [--steps N] [--eval-questions N] [--stages ...]

Every stage runs the real CLI (`ragtune read`, `ragtune train generator`, `ragtune synth`,
`ragtune eval --json`) with the same eval command and index for every condition, and is skipped when its
output already exists under .ragtune/bench/generator-tuning/<set>/ (so stages can run in several sittings;
generated answers are cached, so a rerun only re-scores). The last stage records one row per condition.

- cmrc: train on the first articles of the CMRC 2018 (pseudo) training zip, indexed on their own; evaluate
  on every 6th dev question (500) against the open corpus of all dev paragraphs.
- squad: split the English SQuAD subset by article (even/odd article number); one index of all paragraphs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import record, run_cli
from .splits import qa_split
from .stages import CONFIG, WORK, eval_stage, read_indexes, train_stage

CONFIG_ALL_ANSWERS = Path(__file__).resolve().parent / "generator_tuning_all_answers.yaml"
STAGES = ["closed-book", "rag", "train", "rag+tuned", "synth", "train-synth", "rag+synth-tuned",
          "train-all-answers", "rag+tuned-all-answers", "record"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", choices=["cmrc", "squad"])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--train-articles", type=int, default=300, help="cmrc: training articles from the zip")
    parser.add_argument("--eval-questions", type=int, default=500)
    parser.add_argument("--synth", type=int, default=300, help="QA pairs to synthesise")
    parser.add_argument("--stages", nargs="*", default=STAGES, choices=STAGES)
    args = parser.parse_args()

    work = WORK / args.set
    paths = qa_split(args.set, work, args.train_articles, args.eval_questions)
    log: list[str] = []
    train_index = read_indexes(work, paths, log)

    if "closed-book" in args.stages:
        eval_stage("closed-book", paths, work, log, ["--closed-book"])
    if "rag" in args.stages:
        eval_stage("rag", paths, work, log, [])
    if "train" in args.stages:
        train_stage(paths["train"], train_index, work / "adapter", args.steps, log)
    if "rag+tuned" in args.stages:
        eval_stage("rag+tuned", paths, work, log, ["--adapter", str(work / "adapter")])
    synth = work / "synth.jsonl"
    if "synth" in args.stages and not synth.exists():
        out = run_cli(["synth", "--index", str(train_index), "--out", str(synth), "--n", str(args.synth)], log)
        (work / "synth.log").write_text(out.strip(), encoding="utf-8")  # kept/generated/rejected, for the record
    if "train-synth" in args.stages:
        train_stage(synth, train_index, work / "adapter-synth", args.steps, log)
    if "rag+synth-tuned" in args.stages:
        eval_stage("rag+synth-tuned", paths, work, log, ["--adapter", str(work / "adapter-synth")])
    # the short-answer shortcut (train.max_answer_units) checked: the same run on every answer length
    if "train-all-answers" in args.stages:
        train_stage(paths["train"], train_index, work / "adapter-all-answers", args.steps, log, CONFIG_ALL_ANSWERS)
    if "rag+tuned-all-answers" in args.stages:
        eval_stage("rag+tuned-all-answers", paths, work, log, ["--adapter", str(work / "adapter-all-answers")])
    if "record" in args.stages:
        record_all(args, work, paths)


def record_all(args, work: Path, paths: dict) -> None:
    rows, training, n = {}, {}, None
    # rows of earlier adapters, kept when a folder holds them: rag+tuned-idk (train.no_gold_target idk),
    # rag+tuned-all-answers (before train.max_answer_units), rag+synth-tuned-answer-first (synth.answer_first)
    for name in ("closed-book", "rag", "rag+tuned-idk", "rag+tuned-all-answers", "rag+tuned",
                 "rag+synth-tuned-answer-first", "rag+synth-tuned"):
        result = work / f"eval-{name}.json"
        if result.exists():
            metrics = json.loads(result.read_text())
            n = metrics["n"]
            rows[name] = {**metrics.get("answer", {}), "recall@5": metrics.get("retrieval", {}).get("recall@5"),
                          "grounded": metrics.get("grounding", {}).get("grounded"),
                          "eval_seconds": metrics.get("seconds")}
            if "from" in metrics:  # a row measured in an earlier run of this benchmark (same command and index)
                rows[name]["from"] = metrics["from"]
    for name in ("adapter-idk", "adapter-all-answers", "adapter", "adapter-synth-answer-first", "adapter-synth"):
        meta_path = work / name / "ragtune.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            training[name] = {"examples": meta["examples"], "steps": meta["step"],
                              "train_minutes": round(meta["train_seconds"] / 60, 1),
                              "step_seconds": meta["mean_step_seconds"], "best": meta["best"]}
    synth_summary = {log.stem: log.read_text(encoding="utf-8") for log in sorted(work.glob("synth*.log"))}
    gain = None
    if "rag" in rows and "rag+tuned" in rows:
        gain = round(rows["rag+tuned"]["f1"] - rows["rag"]["f1"], 1)
    record(f"generator tuning: {args.set} ({n} test questions)",
           {"bench": "generator_tuning", "set": args.set, "n": n, "f1_gain_tuned_over_rag": gain, "rows": rows,
            "training": training, "synth": synth_summary or None, "train_config": CONFIG.name},
           notes="same `ragtune eval --json` command and index for every row; EM/F1/ROUGE-L/BLEU 0-100; "
           "eval_seconds is wall time of that eval (0 if its generations were already cached); "
           "train_minutes includes the held-out evaluations during training; a row with `from` was measured in the "
           "earlier run that date names, with the same command, data and index.")


if __name__ == "__main__":
    main()
