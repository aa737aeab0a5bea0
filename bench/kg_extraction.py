"""Does tuning the generator on (text, triples) pairs help extraction? Base vs a `train generator --task extract`
adapter, scored by `ragtune eval --task extract` (triple precision/recall/F1, exact and entity-normalised) on a
held-out split that never enters training.

Usage: python -m bench.kg_extraction duie|webnlg [--train N] [--test N] [--steps N] [--eval-every N]
       [--target-order given|text]

- duie: DuIE 2.0 dev sentences (zh, ../shared/data/kg/duie2-dev-1000.jsonl) with its 48-predicate schema listed
  in the prompt and enforced by the parser: a seeded shuffle, the first --test sentences held out, the next
  --train trained on.
- webnlg: WebNLG 2017 test entries (en, webnlg2-en-931.jsonl), no schema: the same split over entries; a held-out
  entry is scored on its first text, a training entry trains on all its texts (read/triples.py).

Stages (split, base, train, tuned, record) each run the real CLI and are skipped when their output exists under
.ragtune/bench/kg_extraction/<set>/; generations are cached, so a rerun only re-scores. The tuned adapter is
scored with the default `extract.decoding` (auto: 5 samples voted on, for a tuned extractor) and, as baselines of
the same run, greedy and 4 beams voted on; the base model's default is greedy.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import yaml

from ragtune.config import Config
from ragtune.graph.extractor import decoding_of

from .common import ROOT, SHARED, commands, record, run_cli

WORK = ROOT / ".ragtune" / "bench" / "kg_extraction"
CONFIG = Path(__file__).resolve().parent / "kg_extraction.yaml"
DATA = SHARED / "kg"
FILES = {"duie": DATA / "duie2-dev-1000.jsonl", "webnlg": DATA / "webnlg2-en-931.jsonl"}
SCHEMA = {"duie": DATA / "duie_schema.json", "webnlg": None}
STAGES = ["split", "base", "train", "tuned", "record"]
RUNS = ("base", "tuned", "tuned-greedy", "tuned-beam", "base-grounded", "tuned-grounded")


def split(name: str, work: Path, train: int, test: int) -> None:
    """Lines of the source file as they are (the loader reads either format), seeded-shuffled, then cut."""
    lines = [line for line in FILES[name].read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(0).shuffle(lines)
    (work / "test.jsonl").write_text("\n".join(lines[:test]) + "\n", encoding="utf-8")
    (work / "train.jsonl").write_text("\n".join(lines[test : test + train]) + "\n", encoding="utf-8")


def schema_args(name: str) -> list[str]:
    return ["--schema", str(SCHEMA[name])] if SCHEMA[name] else []


def eval_stage(name: str, run: str, work: Path, log: list[str], extra: list[str], decoding: str) -> dict:
    """`eval --task extract` of the test split (its result kept as eval-RUN.json); `decoding` names the
    extract.decoding that `extra` sets, for the record."""
    result = work / f"eval-{run}.json"
    if not result.exists():
        start = time.perf_counter()
        metrics = json.loads(run_cli(["eval", str(work / "test.jsonl"), "--task", "extract", "--json",
                                      *schema_args(name), *extra], log))
        metrics["wall_seconds"] = round(time.perf_counter() - start, 1)
        metrics["decoding"] = decoding
        result.write_text(json.dumps(metrics), encoding="utf-8")
    return json.loads(result.read_text())


def settings_file(work: Path, name: str, extract: dict) -> list[str]:
    """--config FILE with these `extract:` settings."""
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"extract": extract}), encoding="utf-8")
    return ["--config", str(path)]


def finished(adapter: Path) -> bool:
    """The run reached its last step (or stopped early); an interrupted one also has ragtune.json, from its best
    step so far, so that file alone does not say the training is over."""
    if not (adapter / "ragtune.json").exists():
        return False
    meta = json.loads((adapter / "ragtune.json").read_text(encoding="utf-8"))
    return meta.get("stopped_early") or meta.get("step") == meta.get("total_steps")


def train_stage(name: str, work: Path, steps: int, eval_every: int, target_order: str, log: list[str]) -> None:
    out = work / "adapter"
    if finished(out):
        return
    resume = ["--resume"] if (out / "checkpoint").exists() else []
    settings = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    settings["train"]["eval_every"] = eval_every
    settings["extract"] = {"target_order": target_order}
    config = work / "train.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    run_cli(["train", "generator", str(work / "train.jsonl"), "--task", "extract", *schema_args(name),
             "--out", str(out), "--max-steps", str(steps), "--config", str(config), *resume], log)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", choices=sorted(FILES))
    parser.add_argument("--train", type=int, default=900, help="training sentences/entries")
    parser.add_argument("--test", type=int, default=100, help="held-out sentences/entries")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--target-order", choices=["given", "text"], default="given",
                        help="extract.target_order of the training targets")
    parser.add_argument("--stages", nargs="*", default=STAGES, choices=STAGES)
    args = parser.parse_args()
    work = WORK / args.set
    work.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    if "split" in args.stages and not (work / "test.jsonl").exists():
        split(args.set, work, args.train, args.test)
    extract = Config().extract  # the default decoding, "auto" resolved as eval does: greedy untuned, samples tuned
    tuned = ["--adapter", str(work / "adapter")]
    if "base" in args.stages:
        eval_stage(args.set, "base", work, log, [], decoding_of(extract, None))
    if "train" in args.stages:
        train_stage(args.set, work, args.steps, args.eval_every, args.target_order, log)
    if "tuned" in args.stages:
        eval_stage(args.set, "tuned", work, log, tuned, decoding_of(extract, work / "adapter"))
        for other in ("greedy", "beam"):  # the same run's baselines: one pass, and the other vote
            eval_stage(args.set, f"tuned-{other}", work, log, [*tuned, *settings_file(work, other, {
                "decoding": other})], other)
    if "record" in args.stages:  # the same generations re-parsed with extract.grounded (cached: no generation)
        grounded = settings_file(work, "grounded", {"grounded": True})
        for run, extra in (("base", []), ("tuned", tuned)):
            if (work / f"eval-{run}.json").exists():
                eval_stage(args.set, f"{run}-grounded", work, log, [*extra, *grounded],
                           json.loads((work / f"eval-{run}.json").read_text()).get("decoding", "greedy"))
    if "record" in args.stages:
        record_all(args, work)


def record_all(args, work: Path) -> None:
    rows = {run: json.loads((work / f"eval-{run}.json").read_text()) for run in RUNS
            if (work / f"eval-{run}.json").exists()}
    meta = json.loads((work / "adapter" / "ragtune.json").read_text()) if (work / "adapter").exists() else {}
    ratio = None
    if "base" in rows and "tuned" in rows:
        ratio = {k: round(rows["tuned"]["triples"][k] / rows["base"]["triples"][k], 2)
                 if rows["base"]["triples"][k] else None for k in ("f1", "f1_norm")}
    voted = None
    if "tuned" in rows and "tuned-greedy" in rows and rows["tuned-greedy"]["triples"]["f1"]:
        voted = round(rows["tuned"]["triples"]["f1"] / rows["tuned-greedy"]["triples"]["f1"], 3)
    train_lines = sum(1 for _ in (work / "train.jsonl").open(encoding="utf-8"))
    test, schema = work / "test.jsonl", " ".join(schema_args(args.set))
    ran = [f"ragtune eval {test} --task extract {schema} --json",
           f"ragtune train generator {work / 'train.jsonl'} --task extract {schema} --out {work / 'adapter'} "
           f"--max-steps {meta.get('total_steps')} --config {work / 'train.yaml'} (bench/kg_extraction.yaml with "
           f"eval_every {args.eval_every})",
           f"ragtune eval {test} --task extract {schema} --json --adapter {work / 'adapter'}",
           f"ragtune eval {test} --task extract {schema} --json --adapter {work / 'adapter'} --config "
           f"{work / 'greedy.yaml'} (extract.decoding: greedy; beam.yaml likewise)"]
    first = next(iter(rows.values()))
    trained_with = work / "train.yaml" if (work / "train.yaml").exists() else CONFIG  # what the adapter saw
    held_out = yaml.safe_load(trained_with.read_text(encoding="utf-8"))["train"]["eval_size"]
    record(f"KG extraction tuning: {args.set} ({first['n']} held-out texts, {first['gold']} gold triples)",
           {"bench": "kg_extraction", "set": args.set, "f1_ratio_tuned_over_base": ratio,
            "f1_ratio_tuned_default_over_greedy": voted,
            "rows": {run: {**m["triples"], "predicted": m["predicted"], "gold": m["gold"],
                           "seconds": m["wall_seconds"], "decoding": m.get("decoding", "greedy")}
                     for run, m in rows.items()},
            "training": {"lines": train_lines, "steps": meta.get("step"), "best": meta.get("best"),
                         "train_minutes": round(meta.get("train_seconds", 0) / 60, 1),
                         "step_seconds": meta.get("mean_step_seconds"), "history": meta.get("history")}},
           notes="micro triple P/R/F1 0-100 (exact strings; _norm: entity_key on subject and object, predicate_key "
           "on the predicate); *-grounded: the same generations parsed with extract.grounded (triples naming "
           "something the text does not contain dropped); OpenVINO int8 generation (the adapter applied at "
           "runtime), each row's `decoding` (greedy: one pass; sample: 5 samples, beam: 4 beams, a triple kept "
           "when half of them write it; the default `auto` is sample with an adapter, greedy without), at most "
           "extract.max_new_tokens tokens; "
           "seconds = wall time of that eval on the shared 2-core machine; the training "
           f"held out {held_out} of its own lines to keep the best step; split by `--train {args.train} --test "
           f"{first['n']}`; stages: " + commands(ran))


if __name__ == "__main__":
    main()
