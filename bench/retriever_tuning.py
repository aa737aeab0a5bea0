"""Does fine-tuning the retriever help? Base vs tuned recall@1/5/20, MRR@10, nDCG@10 on held-out questions.

Usage: python -m bench.retriever_tuning [scifact|cmrc|squad|cmrc-trad ...] [--embedder NAME]
       [--epochs E | --max-steps N] [--rows dense,hybrid,hybrid+rerank] [--train-articles N] [--eval-questions N]

Every stage runs the real CLI (`ragtune read`, `ragtune train retriever`, `ragtune eval --retrieval-only --json
[--adapter]`), and is skipped when its output already exists under
.ragtune/bench/retriever-tuning/<set>-<embedder>/ (delete the folder to start again). Never test qrels:

- scifact: the queries of SciFact's train qrels, split in two by a seeded shuffle; train on one half,
  evaluate on the other, over the whole corpus.
- cmrc: train on the first --train-articles articles of the CMRC 2018 pseudo training zip (indexed on their
  own), evaluate on the dev questions against the open corpus of all dev paragraphs.
- squad: the English SQuAD subset split by article (even = train, odd = test), one index of all paragraphs.
- cmrc-trad: CMRC 2018 dev converted to Traditional Chinese, split by article like squad (a Chinese set held
  out by article).

A query adapter (frozen embedders) applies to the eval index as it is; a re-trained encoder (sentence-
transformers embedders) is evaluated on a copy of the eval index re-embedded with `read --reembed`.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

from .common import ROOT, SHARED, commands, record
from .common import run_cli as run
from .splits import qa_split

WORK = ROOT / ".ragtune" / "bench" / "retriever-tuning"
SETS = ["scifact", "cmrc", "squad", "cmrc-trad"]
#: retrieval settings each condition is scored under (YAML overrides of the config)
ROWS = {
    "dense": {"retrieval": {"dense_weight": 1.0, "bm25_weight": 0.0, "reranker": "none"}},
    "hybrid": {"retrieval": {"reranker": "none"}},
    "hybrid+rerank": {},
}


def prepare(name: str, work: Path, train_articles: int, eval_questions: int) -> dict:
    """Paths for: train data, eval data (+ its BEIR split), the corpus each index reads."""
    work.mkdir(parents=True, exist_ok=True)
    if name == "scifact":
        source = SHARED / "scifact"
        rows = [line.split() for line in (source / "qrels" / "train.tsv").read_text().splitlines()[1:] if line.strip()]
        queries = sorted({r[0] for r in rows})
        random.Random("retriever-tuning/scifact").shuffle(queries)
        train_ids = set(queries[: len(queries) // 2])
        folder = work / "scifact"
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        for file in ("corpus.jsonl", "queries.jsonl"):
            if not (folder / file).exists():
                shutil.copyfile(source / file, folder / file)
        for split, keep in (("train", lambda q: q in train_ids), ("heldout", lambda q: q not in train_ids)):
            (folder / "qrels" / f"{split}.tsv").write_text(
                "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rows if keep(r[0])))
        return {"train": folder, "train_split": "train", "eval": folder, "eval_split": "heldout",
                "train_corpus": source, "eval_corpus": source}
    paths = qa_split(name, work, train_articles, eval_questions)
    return {"train": paths["train"], "train_split": None, "eval": paths["test"], "eval_split": None,
            "train_corpus": paths["train_corpus"], "eval_corpus": paths["eval_corpus"]}


def bench_set(name: str, args, log: list[str]) -> dict:
    work = WORK / f"{name}-{args.embedder.replace('/', '_')}"
    paths = prepare(name, work, args.train_articles, args.eval_questions)
    embedder_config = work / "embedder.yaml"
    embedder_config.write_text(json.dumps({"embedder": {"name": args.embedder}}))
    eval_index, train_index = work / "index-eval", work / "index-eval"
    start = time.perf_counter()
    run(["read", str(paths["eval_corpus"]), "--index", str(eval_index), "--config", str(embedder_config)], log)
    if paths["train_corpus"] != paths["eval_corpus"]:
        train_index = work / "index-train"
        run(["read", str(paths["train_corpus"]), "--index", str(train_index), "--config", str(embedder_config)], log)
    index_s = time.perf_counter() - start

    adapter = work / "adapter"
    train_s = None
    if not (adapter / "ragtune.json").is_file():
        start = time.perf_counter()
        budget = (["--max-steps", str(args.max_steps)] if args.max_steps else
                  ["--epochs", str(args.epochs)] if args.epochs else [])
        split = ["--split", paths["train_split"]] if paths["train_split"] else []
        run(["train", "retriever", str(paths["train"]), "--index", str(train_index), "--out", str(adapter),
             "--config", str(embedder_config), *budget, *split], log)
        train_s = round(time.perf_counter() - start, 1)
    meta = json.loads((adapter / "ragtune.json").read_text(encoding="utf-8"))
    tuned_index = eval_index
    if meta.get("reembed_required"):
        tuned_index = work / "index-eval-tuned"
        if not tuned_index.exists():
            shutil.copytree(eval_index, tuned_index)
            run(["read", "--reembed", "--embedder", str(adapter / meta["encoder"]), "--index", str(tuned_index)], log)

    rows: dict[str, dict] = {}
    for row in args.rows.split(","):
        row_config = work / f"row-{row}.yaml"
        row_config.write_text(json.dumps({"embedder": {"name": args.embedder}, **ROWS[row]}))
        rows[row] = {}
        for condition, index, extra in (("base", eval_index, []), ("tuned", tuned_index, ["--adapter", str(adapter)])):
            result = work / f"eval-{row}-{condition}.json"
            if not result.exists():
                split = ["--split", paths["eval_split"]] if paths["eval_split"] else []
                out = run(["eval", str(paths["eval"]), "--index", str(index), "--retrieval-only", "--json",
                           "--config", str(row_config), *split, *extra], log)
                result.write_text(json.dumps(json.loads(out)), encoding="utf-8")
            metrics = json.loads(result.read_text(encoding="utf-8"))
            rows[row][condition] = {"n": metrics["n"], **metrics["retrieval"]}
        rows[row]["delta_ndcg@10"] = round(rows[row]["tuned"]["ndcg@10"] - rows[row]["base"]["ndcg@10"], 4)
    return {"bench": "retriever_tuning", "set": name, "embedder": args.embedder, "adapter": meta["retriever"],
            "train_questions": meta["questions"], "train_examples": meta["examples"], "steps": meta["steps"],
            "loss_first": meta["loss_first"], "loss_last": meta["loss_last"],
            "heldout": meta.get("heldout"),
            "fusion": {k: v for k, v in (meta.get("fusion") or {}).items() if k != "grid"} or None,
            "train_s": train_s if train_s is not None else meta.get("train_seconds"),
            "index_s": round(index_s, 1), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=SETS, choices=SETS)
    parser.add_argument("--embedder", default="use-multilingual", help="the index's embedder (config name)")
    parser.add_argument("--epochs", type=float, default=None, help="train_retriever.epochs (default: config)")
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides epochs)")
    parser.add_argument("--train-articles", type=int, default=800, help="cmrc: training articles from the zip")
    parser.add_argument("--eval-questions", type=int, default=0, help="cmrc/squad: spread subset (0: all)")
    parser.add_argument("--rows", default="dense,hybrid", help="comma-separated subset of " + ", ".join(ROWS))
    args = parser.parse_args()
    unknown = [r for r in args.rows.split(",") if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}")
    for name in args.sets:
        log: list[str] = []
        result = bench_set(name, args, log)
        record(f"retriever tuning: {name} ({args.embedder})", result,
               notes="base vs `ragtune train retriever` adapter on held-out questions (never test qrels); "
               "rows: dense alone and fused (no reranker) unless --rows says otherwise. Commands: "
               + commands(log))


if __name__ == "__main__":
    main()
