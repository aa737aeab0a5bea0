"""Training memory: a LoRA step's peak RSS and time with the frozen base in float32 or bfloat16, with and without
gradient checkpointing, at micro-batches of 4 sequences or fewer, one run.

Usage: python -m bench.train_memory [--steps 2] [--variants float32 bfloat16 bfloat16+ckpt bfloat16+mb1 ...]
(the first variant is the baseline of the ratios)

The 8 real RAFT sequences of bench/train_step_speed.py (CMRC 2018 training questions over their own index, the
settings of bench/generator_tuning.yaml: micro-batches of 4 × accumulation 2, up to 1,024 tokens, bf16
autocast where the CPU has it) are encoded once; each variant then runs in its own process (so its peak RSS is
its own) through the trainers' own preamble (`training_base` with `train.frozen_dtype` and
`train.gradient_checkpointing`), a fresh LoRA and AdamW: one warm-up step, then --steps timed ones.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import sys

from ragtune.config import Config

from .common import ROOT, record, run_child
from .stages import CONFIG
from .train_step_speed import batch_rows, lora_steps

WORK = ROOT / ".ragtune" / "bench" / "train-memory"
VARIANTS = ["float32", "bfloat16", "bfloat16+ckpt", "float32+ckpt"]


def variant_config(variant: str) -> Config:
    """"DTYPE[+ckpt][+mbN]": the frozen base's dtype, gradient checkpointing, micro-batches of N sequences (the
    step's 8 sequences stay one optimizer step: N only changes how many go through the model at once)."""
    dtype, *options = variant.split("+")
    overrides = {"train.frozen_dtype": dtype, "train.gradient_checkpointing": "ckpt" in options}
    for option in options:
        if option.startswith("mb"):
            overrides["train.batch_size"] = int(option[2:])
        elif option != "ckpt":
            raise SystemExit(f"unknown variant option {option!r} in {variant!r}")
    return Config.load(CONFIG, **overrides)


def steps_of(variant: str, steps: int) -> dict:
    """Runs in a child process: the trainer's preamble and `steps` + 1 optimizer steps on the saved rows."""
    from ragtune.train.model import add_lora, training_base

    config = variant_config(variant)
    tc = config.train
    tokenizer, rows = pickle.loads((WORK / "rows.pkl").read_bytes())
    _, base, _ = training_base(config, 0, tc)
    cpu: list[float] = []
    times, losses = lora_steps(add_lora(base, tc), tokenizer, rows, tc, steps, cpu)
    return {"step_s": round(sum(times) / steps, 2), "steps_s": [round(t, 2) for t in times],
            "cpu_step_s": round(sum(cpu) / steps, 2), "losses": losses,
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(steps_of(args.child, args.steps)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    config = Config.load(CONFIG)
    tokenizer, rows = batch_rows(config, args.questions)
    (WORK / "rows.pkl").write_bytes(pickle.dumps((tokenizer, rows)))
    table = {}
    for variant in args.variants:
        table[variant] = run_child("bench.train_memory", ["--child", variant, "--steps", str(args.steps)])
        print(json.dumps({variant: table[variant]}), file=sys.stderr, flush=True)
    baseline = args.variants[0]
    before = table[baseline]
    for row in table.values():
        row[f"rss_vs_{baseline}"] = round(row["peak_rss_gb"] / before["peak_rss_gb"], 2)
        row[f"time_vs_{baseline}"] = round(row["step_s"] / before["step_s"], 2)
        row[f"cpu_vs_{baseline}"] = round(row["cpu_step_s"] / before["cpu_step_s"], 2)
    record("training memory: frozen base dtype and gradient checkpointing",
           {"bench": "train_memory", "sequences": len(rows), "tokens_per_step": sum(len(r) for r in rows),
            "table": table},
           notes="peak_rss_gb is the child process's peak resident memory (model load, LoRA, steps); float32 is "
           "the frozen base before train.frozen_dtype existed; each variant's first step (warm-up) is excluded "
           "from step_s; losses include it (the same rows every step); cpu_step_s is the process's CPU seconds a step "
           "(both threads), which hypervisor steal time does not inflate as it does step_s.")


if __name__ == "__main__":
    main()
