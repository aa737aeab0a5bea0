"""Which decoding should extraction use? One greedy pass against several candidates voted on (`extract.decoding`:
the best beams of a beam search, or samples), at every vote threshold, for one tuned extraction adapter: on the
training's own held-out slice (`--split held-out`, where a choice should be made) or on the benchmark's test split.

Usage: python -m bench.kg_extraction SET (first: the split and the adapter), then
       python -m bench.kg_decoding SET [--split held-out|test] [--adapter DIR] [--methods greedy beam4 sample5]

Generation goes through ragtune's own path (`Generator.generate` / `Generator.candidates`, the default backend,
the adapter applied as `eval` applies it) but not through the generation cache, so each method's time is its own.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from ragtune.config import Config
from ragtune.eval.triples import triple_scores
from ragtune.generate.base import Candidates
from ragtune.graph.extractor import configured_schema, prompt_for, voted
from ragtune.graph.triples import parse_triples
from ragtune.pipeline import Pipeline
from ragtune.read.triples import load_triples
from ragtune.train.examples import split_questions
from ragtune.train.tasks import TASKS

from .common import record
from .kg_extraction import SCHEMA, WORK


def examples_of(work: Path, split: str, config: Config) -> list:
    """The test split, or the slice of the training split the adapter's training held out (its own eval_size)."""
    if split == "test":
        return load_triples(work / "test.jsonl")
    size = yaml.safe_load((work / "train.yaml").read_text(encoding="utf-8"))["train"]["eval_size"]
    tc = config.train
    return split_questions(load_triples(work / "train.jsonl"), fraction=tc.eval_fraction, size=size, seed=tc.seed)[1]


def method_of(name: str) -> Candidates | None:
    """greedy, beamN or sampleN."""
    if name == "greedy":
        return None
    method = "beam" if name.startswith("beam") else "sample"
    return Candidates(int(name.removeprefix(method)), method)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", choices=sorted(SCHEMA))
    parser.add_argument("--split", choices=["held-out", "test"], default="held-out")
    parser.add_argument("--adapter", type=Path, help="default: the set's adapter from bench.kg_extraction")
    parser.add_argument("--methods", nargs="+", default=["greedy", "beam4", "sample5"])
    args = parser.parse_args()
    work = WORK / args.set
    adapter = args.adapter or work / "adapter"
    config = TASKS["extract"].configured(Config(), schema=SCHEMA[args.set])  # as `eval --task extract --schema`
    schema = configured_schema(config)
    examples = examples_of(work, args.split, config)
    gold = [e.triples for e in examples]
    generator = Pipeline(Path("."), config, adapter=[adapter], progress=False).generator
    prompts = [prompt_for(e.text, config, schema) for e in examples]
    rows = []
    for name in args.methods:
        start, candidates = time.perf_counter(), method_of(name)
        outputs = ([[o] for o in generator.generate(prompts)] if candidates is None
                   else generator.candidates(prompts, candidates))
        seconds = round(time.perf_counter() - start, 1)
        parsed = [[parse_triples(o, schema) for o in found] for found in outputs]
        for need in range(1, len(outputs[0]) + 1):
            kept = [voted(found, need) for found in parsed]
            scores = triple_scores(kept, gold)
            rows.append({"method": name, "min_votes": need, "f1": scores["f1"], "precision": scores["precision"],
                         "recall": scores["recall"], "f1_norm": scores["f1_norm"],
                         "predicted": sum(map(len, kept)), "seconds": seconds})
            print(rows[-1], flush=True)
    greedy = next((r for r in rows if r["method"] == "greedy"), None)
    for row in rows:
        if greedy is not None:
            row["f1_ratio_over_greedy"] = round(row["f1"] / greedy["f1"], 3) if greedy["f1"] else None
            row["seconds_ratio_over_greedy"] = round(row["seconds"] / greedy["seconds"], 2)
    record(f"KG extraction decoding: {args.set}, {args.split} ({len(examples)} texts, "
           f"{sum(len(g) for g in gold)} gold triples)",
           {"bench": "kg_decoding", "set": args.set, "split": args.split, "adapter": str(adapter), "rows": rows},
           notes="micro triple P/R/F1 0-100, exact (f1_norm: entity-normalised); min_votes: candidates that must "
           "write a triple for it to be kept (1: their union); beamN: the N best beams of a beam search, sampleN: "
           "N samples at temperature 0.7, top-p 0.95, seed 0; seconds: that method's generation over the split "
           "(default backend, no generation cache), ratios against greedy in the same run")


if __name__ == "__main__":
    main()
