"""Does tuning the generator on summaries help? Base vs a `train generator --task summarize` adapter, scored by
`ragtune eval --task summarize` (ROUGE-1/2/L, faithfulness) on a held-out split that never enters training.

Usage: python -m bench.summarization csl|cnndm [--train N] [--test N] [--steps N] [--words N] [--min-support S]

- csl: CSL abstract -> title (zh, ../shared/data/summarization/csl-title-dev.tsv, 1,000 rows): a seeded shuffle,
  the first --test rows held out, the next --train rows trained on; summaries at length "short" (one sentence).
- cnndm: the 100 SummEval CNN/DailyMail articles, cut to their first --words words (2 shared cores); --test
  articles held out and scored against all their references; the others trained on with each of their references
  as a target (the original highlights and SummEval's ten more); length "medium" (three sentences).

Stages (split, base, train, tuned, record) each run the real CLI and are skipped when their output exists under
.ragtune/bench/summarization/<set>/; generations are cached, so a rerun only re-scores.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from .common import ROOT, SHARED, commands, record, run_cli

WORK = ROOT / ".ragtune" / "bench" / "summarization"
CONFIG = Path(__file__).resolve().parent / "summarization.yaml"
DATA = SHARED / "summarization"
STAGES = ["split", "base", "train", "tuned", "record"]
LENGTH = {"csl": "short", "cnndm": "medium"}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def split_csl(work: Path, train: int, test: int) -> None:
    rows = [line.split("\t") for line in (DATA / "csl-title-dev.tsv").read_text(encoding="utf-8").splitlines()]
    rows = [{"id": f"csl-{i}", "document": r[1].strip(), "summary": r[2].strip()} for i, r in enumerate(rows)]
    random.Random(0).shuffle(rows)
    write_jsonl(work / "test.jsonl", rows[:test])
    write_jsonl(work / "train.jsonl", rows[test : test + train])


def split_cnndm(work: Path, train: int, test: int, words: int) -> None:
    articles = [json.loads(line) for line in (DATA / "cnndm-summeval-100.jsonl").read_text().splitlines()]
    random.Random(0).shuffle(articles)
    cut = [" ".join(a["src"].split()[:words]) for a in articles]
    refs = [list(dict.fromkeys([a["ref_summ"], *a["ref_summs"]])) for a in articles]
    write_jsonl(work / "test.jsonl", [{"id": a["doc_id"], "document": d, "summaries": r}
                                      for a, d, r in zip(articles[:test], cut[:test], refs[:test])])
    pairs = [{"id": f"{a['doc_id']}-{n}", "document": d, "summary": s}
             for a, d, r in zip(articles[test:], cut[test:], refs[test:]) for n, s in enumerate(r)]
    random.Random(1).shuffle(pairs)
    write_jsonl(work / "train.jsonl", pairs[:train])


def eval_stage(name: str, work: Path, length: str, log: list[str], extra: list[str]) -> dict:
    result = work / f"eval-{name}.json"
    if not result.exists():
        start = time.perf_counter()
        metrics = json.loads(run_cli(["eval", str(work / "test.jsonl"), "--task", "summarize", "--length", length,
                                      "--json", *extra], log))
        metrics["wall_seconds"] = round(time.perf_counter() - start, 1)
        result.write_text(json.dumps(metrics), encoding="utf-8")
    return json.loads(result.read_text())


def train_config(work: Path, min_support: str | None) -> Path:
    """bench/summarization.yaml (summarize.train_min_support at its default), or a copy of it in `work` with
    train_min_support set ("none": the references as given)."""
    if min_support is None:
        return CONFIG
    value = "null" if min_support == "none" else float(min_support)
    path = work / f"summarization-support{min_support}.yaml"
    path.write_text(CONFIG.read_text(encoding="utf-8") + f"summarize:\n  train_min_support: {value}\n",
                    encoding="utf-8")
    return path


def train_stage(work: Path, adapter: str, length: str, steps: int, config: Path, log: list[str]) -> None:
    out = work / adapter
    if (out / "ragtune.json").exists():
        return
    resume = ["--resume"] if (out / "checkpoint").exists() else []
    run_cli(["train", "generator", str(work / "train.jsonl"), "--task", "summarize", "--length", length,
             "--out", str(out), "--max-steps", str(steps), "--config", str(config), *resume], log)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", choices=["csl", "cnndm"])
    parser.add_argument("--train", type=int, default=200, help="training pairs")
    parser.add_argument("--test", type=int, default=None, help="held-out documents (csl 40, cnndm 30)")
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--words", type=int, default=200, help="cnndm: words of each article kept")
    parser.add_argument("--min-support", default=None,
                        help="summarize.train_min_support for training, a number or 'none' (the references as "
                        "given; unset: the config's default): its adapter and row are named after it")
    parser.add_argument("--stages", nargs="*", default=["split", "base", "train", "tuned", "record"], choices=STAGES)
    args = parser.parse_args()
    variant = "" if args.min_support is None else f"-support{args.min_support}"
    test = args.test or {"csl": 40, "cnndm": 30}[args.set]
    work = WORK / args.set
    work.mkdir(parents=True, exist_ok=True)
    length, log = LENGTH[args.set], []
    if "split" in args.stages and not (work / "test.jsonl").exists():
        if args.set == "csl":
            split_csl(work, args.train, test)
        else:
            split_cnndm(work, args.train, test, args.words)
    if "base" in args.stages:
        eval_stage("base", work, length, log, [])
    config = train_config(work, args.min_support)
    if "train" in args.stages:
        train_stage(work, "adapter" + variant, length, args.steps, config, log)
    if "tuned" in args.stages:
        eval_stage("tuned" + variant, work, length, log, ["--adapter", str(work / ("adapter" + variant))])
    if "record" in args.stages:
        record_all(args, work, length, variant, config)


def record_all(args, work: Path, length: str, variant: str, config: Path) -> None:
    tuned, adapter = "tuned" + variant, work / ("adapter" + variant)
    rows = {name: json.loads((work / f"eval-{name}.json").read_text()) for name in ("base", tuned)
            if (work / f"eval-{name}.json").exists()}
    meta = json.loads((adapter / "ragtune.json").read_text()) if adapter.exists() else {}
    gain = None
    if len(rows) == 2:
        gain = {k: round(rows[tuned]["summary"][k] - rows["base"]["summary"][k], 2)
                for k in rows["base"]["summary"]}
    train_pairs = sum(1 for _ in (work / "train.jsonl").open(encoding="utf-8"))
    test = work / "test.jsonl"
    shown_config = config.relative_to(ROOT) if config.is_relative_to(ROOT) else config
    ran = [f"ragtune eval {test} --task summarize --length {length} --json",
           f"ragtune train generator {work / 'train.jsonl'} --task summarize --length {length} --out "
           f"{adapter} --max-steps {meta.get('step')} --config {shown_config}",
           f"ragtune eval {test} --task summarize --length {length} --json --adapter {adapter}"]
    record(f"summary tuning: {args.set} ({next(iter(rows.values()))['n']} held-out documents)",
           {"bench": "summarization", "set": args.set, "length": length, "gain_tuned_over_base": gain,
            "rows": {name: {**m["summary"], "seconds": m["wall_seconds"]} for name, m in rows.items()},
            "training": {"pairs": train_pairs, "examples": meta.get("examples"), "steps": meta.get("step"),
                         "min_support": args.min_support,
                         "train_minutes": round(meta.get("train_seconds", 0) / 60, 1),
                         "step_seconds": meta.get("mean_step_seconds"),
                         "history": meta.get("history")},
            "words_per_article": args.words if args.set == "cnndm" else None},
           notes="ROUGE F-measures and faithfulness 0-100 (character-level ROUGE for Chinese; faithfulness: share "
           "of summary sentences with >= 60% of their unit bigrams in the source, eval/faithfulness.py); "
           "OpenVINO int8 generation (the adapter applied at runtime); seconds = wall time of that eval on the "
           "2-core machine; split by "
           f"`--train {args.train} --test {next(iter(rows.values()))['n']}"
           + (f" --words {args.words}`" if args.set == "cnndm" else "`") + "; stages: " + commands(ran))


if __name__ == "__main__":
    main()
