"""The CLI stages the fine-tuning benchmarks share (generator_tuning, joint_tuning, synth_yield): one work folder
per set under .ragtune/bench/generator-tuning/, each stage the real `ragtune` command, skipped when its output
already exists, so the benchmarks reuse each other's data, indexes, adapters and eval results."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .common import ROOT, run_cli

WORK = ROOT / ".ragtune" / "bench" / "generator-tuning"
#: the generator training config of the tuning benchmarks (next to this module, like every bench YAML)
CONFIG = Path(__file__).resolve().parent / "generator_tuning.yaml"


def eval_stage(name: str, paths: dict, work: Path, log: list[str], extra: list[str]) -> None:
    """`ragtune eval --json` of the test split against index-eval, kept as eval-<name>.json with its wall time."""
    result = work / f"eval-{name}.json"
    if result.exists():
        return
    start = time.perf_counter()
    out = run_cli(["eval", str(paths["test"]), "--index", str(work / "index-eval"), "--json", "--name", name,
                   "--report", str(work / "report"), *extra], log)
    metrics = json.loads(out)
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    result.write_text(json.dumps(metrics), encoding="utf-8")


def train_stage(data: Path, index: Path, out: Path, steps: int, log: list[str], config: Path = CONFIG) -> None:
    """`ragtune train generator`, skipped when finished and resumed when a checkpoint says it was interrupted."""
    if (out / "ragtune.json").exists() and not (out / "checkpoint").exists():
        return
    if (out / "ragtune.json").exists():
        meta = json.loads((out / "ragtune.json").read_text())
        if meta["step"] >= meta["total_steps"] or meta["stopped_early"]:
            return
    resume = ["--resume"] if (out / "checkpoint").exists() else []
    run_cli(["train", "generator", str(data), "--index", str(index), "--out", str(out), "--max-steps", str(steps),
             "--config", str(config), *resume], log)


def read_indexes(work: Path, paths: dict, log: list[str]) -> Path:
    """`ragtune read` the eval corpus into index-eval and, when training has its own corpus (cmrc), that into
    index-train; returns the index training reads."""
    run_cli(["read", str(paths["eval_corpus"]), "--index", str(work / "index-eval")], log)
    if paths["train_corpus"] == paths["eval_corpus"]:
        return work / "index-eval"
    run_cli(["read", str(paths["train_corpus"]), "--index", str(work / "index-train")], log)
    return work / "index-train"
