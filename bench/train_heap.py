"""Training's resident memory over many steps of varying length, with and without returning the heap's free pages
to the OS after each step (`ragtune/train/memory.py`), one run.

Usage: python -m bench.train_heap [--steps 30] [--variants untrimmed trimmed trimmed+dnn8 trimmed+pad32]
(the first variant is the baseline of the ratios)

Each variant is `ragtune train generator --task extract` on the DuIE training split of bench/kg_extraction.py
(run its split stage first: `python -m bench.kg_extraction duie --stages split`), with bench/kg_extraction.yaml's
settings and no held-out evaluation, in its own process; this process samples that child's resident size every
second. A long run of that command grew from 6 to 17 GB: the batches change length every step, and glibc keeps
the freed buffers of each length. `untrimmed` is the same command with the trim replaced by a no-op;
`trimmed+dnn8` also caps oneDNN's primitive cache at 8 entries (ONEDNN_PRIMITIVE_CACHE_CAPACITY, default 1024):
oneDNN keeps a primitive, with its buffers, for every input shape it has seen, and each step brings new ones.
`trimmed+pad32` bounds the shapes instead (`train.pad_multiple: 32`: batches padded to a multiple of 32 tokens).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

import yaml

from .common import ROOT, memory_mb, record

WORK = ROOT / ".ragtune" / "bench" / "train-heap"
DUIE = ROOT / ".ragtune" / "bench" / "kg_extraction" / "duie" / "train.jsonl"
SCHEMA = ROOT.parent / "shared" / "data" / "kg" / "duie_schema.json"
CONFIG = ROOT / "bench" / "kg_extraction.yaml"
VARIANTS = ["untrimmed", "trimmed", "trimmed+dnn8", "trimmed+pad32"]
#: the environment each variant's process starts with, besides this one's
ENV = {"trimmed+dnn8": {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "8"}}
#: `train:` settings of a variant, over bench/kg_extraction.yaml's
TRAIN = {"trimmed+pad32": {"pad_multiple": 32}}


def child(variant: str, argv: list[str]) -> None:
    """The CLI in this process, with the per-step trim disabled for `untrimmed`."""
    if variant == "untrimmed":  # the others trim (trimmed+dnn8 differs in its environment only)
        import ragtune.train.loop

        ragtune.train.loop.release_free_memory = lambda: False
    from ragtune.cli import main

    sys.argv = ["ragtune", *argv]
    main()


def run_variant(variant: str, steps: int, settings: dict) -> dict:
    out = WORK / variant
    config = WORK / f"train-{variant}.yaml"
    config.write_text(yaml.safe_dump({**settings, "train": {**settings["train"], **TRAIN.get(variant, {})}}),
                      encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    argv = ["train", "generator", str(DUIE), "--task", "extract", "--schema", str(SCHEMA), "--out", str(out),
            "--max-steps", str(steps), "--config", str(config)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-m", "bench.train_heap", "--child", variant, "--", *argv], cwd=ROOT,
                            env={**os.environ, **ENV.get(variant, {})})
    samples: list[float] = []
    while proc.poll() is None:
        rss = memory_mb(proc.pid).get("VmRSS")
        if rss is not None:
            samples.append(rss / 1024)
        time.sleep(1)
    if proc.returncode:
        raise SystemExit(f"{variant}: training exited with {proc.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    meta = json.loads((out / "ragtune.json").read_text())
    quarter = max(1, len(samples) // 4)
    return {"peak_rss_gb": round(max(samples), 2), "rss_first_quarter_gb": round(max(samples[:quarter]), 2),
            "rss_last_quarter_gb": round(max(samples[-quarter:]), 2), "step_s": meta["mean_step_seconds"],
            "cpu_s": round(cpu_s, 1), "steps": meta["step"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--variants", nargs="+", default=VARIANTS[:2], choices=VARIANTS)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("argv", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.argv)
        return
    if not DUIE.exists():
        raise SystemExit(f"{DUIE} is missing: run `python -m bench.kg_extraction duie --stages split` first")
    WORK.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    settings["train"].update(eval_size=0, eval_at_start=False, save_every=10_000)
    table = {}
    for variant in args.variants:
        table[variant] = run_variant(variant, args.steps, settings)
        print(json.dumps({variant: table[variant]}), file=sys.stderr, flush=True)
    base = table[args.variants[0]]
    for row in table.values():
        row[f"peak_vs_{args.variants[0]}"] = round(row["peak_rss_gb"] / base["peak_rss_gb"], 2)
        row[f"time_vs_{args.variants[0]}"] = round(row["step_s"] / base["step_s"], 2)
        row[f"cpu_vs_{args.variants[0]}"] = round(row["cpu_s"] / base["cpu_s"], 2)
    record(f"training heap: resident memory over {args.steps} extraction steps, trimmed vs not",
           {"bench": "train_heap", "steps": args.steps, "table": table},
           notes="`ragtune train generator DuIE-train --task extract --schema duie_schema.json --max-steps N` with "
           "bench/kg_extraction.yaml (4 sequences of at most 512 tokens a step, LoRA rank 16 on every linear "
           "layer), no held-out evaluation, each variant in its own process; RSS sampled each second by the "
           "parent (model load included); *_quarter_gb: the highest sample in the first and last quarter of the "
           "run; step_s from the adapter's ragtune.json (wall); cpu_s: the child's user+system CPU seconds, model "
           "load included (hypervisor steal does not inflate it); dnn8: ONEDNN_PRIMITIVE_CACHE_CAPACITY=8; pad32: "
           "train.pad_multiple 32")


if __name__ == "__main__":
    main()
