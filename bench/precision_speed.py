"""float32 vs bfloat16 on this CPU: batched generation and one LoRA forward+backward, same inputs, one run.

Usage: python -m bench.precision_speed [--batch 4] [--context-chars 600] [--new-tokens 8] [--limit 240]

Why: `generator.dtype` and `train.bf16` default to `auto`, which picks bfloat16 only where the CPU computes it
natively (AVX512-BF16/AMX). This records the ratio that justifies it on the machine at hand: without native
bf16, torch emulates it and both generation and training get slower, not faster.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time

from ragtune.config import Config
from ragtune.generate.hf import HFGenerator
from ragtune.hardware import native_bf16, resolve_dtype
from ragtune.train.model import add_lora, autocast, load_base, loss_sum
from ragtune.train.tokenize import IGNORE

from .common import SHARED, record


def prompts(batch: int, context_chars: int) -> list[list[dict]]:
    """CMRC dev questions, each with its own paragraph and the next ones as context (a RAG-sized prompt)."""
    data = json.loads((SHARED / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))
    paragraphs = [p for a in data["data"] for p in a["paragraphs"]]
    out = []
    for i in range(batch):
        context = "\n\n".join(p["context"] for p in paragraphs[i : i + 4])[:context_chars]
        question = paragraphs[i]["qas"][0]["question"]
        out.append([{"role": "user", "content": f"资料：\n{context}\n\n问题：{question}\n请简短回答。"}])
    return out


def time_generation(config: Config, dtype: str, batch: list[list[dict]]) -> float:
    generator = HFGenerator.load(config.generator.model_copy(update={"dtype": dtype}), config.resolved_cache_dir)
    generator.generate([[{"role": "user", "content": "你好"}]])  # warm-up
    start = time.perf_counter()
    generator.generate(batch)
    seconds = time.perf_counter() - start
    print(f"generate, {dtype}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds


def time_train_step(config: Config, bf16: bool, batch: list[list[dict]]) -> float:
    """One forward+backward of the answer-only loss (last 16 tokens labelled), as ragtune's training step does."""
    tokenizer, base = load_base(config)
    model = add_lora(base, config.train)
    model.train()
    texts = [tokenizer.apply_chat_template(m, tokenize=False) for m in batch[:2]]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = enc["input_ids"].clone()
    labels[:, :-16] = IGNORE
    times = []
    for width in (32, enc["input_ids"].shape[1]):  # a short warm-up, then the timed full-length step
        start = time.perf_counter()
        with autocast(model, bf16):
            loss = loss_sum(model, enc["input_ids"][:, -width:], enc["attention_mask"][:, -width:],
                            labels[:, -width:])
        loss.backward()
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    print(f"train step, bf16={bf16}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
    return times[-1]


def limited(fn, args: tuple, seconds: float) -> float | None:
    """fn(*args) in a child process: its result, or None when it ran past `seconds` (then it is killed).

    Without native bf16, torch falls back to a single-threaded reference GEMM in the backward pass, which can
    take many minutes; the limit turns that into a recorded lower bound instead of a hung benchmark.
    """
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        job = pool.apply_async(fn, args)
        try:
            return job.get(timeout=seconds)
        except multiprocessing.TimeoutError:
            print(f"{fn.__name__}{args[1:2]}: over {seconds:.0f} s, stopped", file=sys.stderr, flush=True)
            return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--context-chars", type=int, default=600)
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--limit", type=float, default=240, help="seconds per measurement before it is stopped")
    args = parser.parse_args()
    config = Config()
    config.generator.max_new_tokens = args.new_tokens
    batch = prompts(args.batch, args.context_chars)
    gen = {dtype: limited(time_generation, (config, dtype, batch), args.limit) for dtype in ("float32", "bfloat16")}
    train = {name: limited(time_train_step, (config, bf16, batch), args.limit)
             for name, bf16 in (("float32", False), ("bf16", True))}

    def ratio(slow: float | None, fast: float | None) -> float | None:
        if fast is None:
            return None
        return round((args.limit if slow is None else slow) / fast, 2)

    result = {"bench": "precision_speed", "native_bf16": native_bf16("cpu"),
              "auto_dtype": str(resolve_dtype("auto", "cpu")).removeprefix("torch."),
              "batch": args.batch, "context_chars": args.context_chars, "new_tokens": args.new_tokens,
              "limit_s": args.limit,
              "generate_s": {k: v and round(v, 2) for k, v in gen.items()},
              "ratio_generate_bf16_vs_fp32": ratio(gen["bfloat16"], gen["float32"]),
              "train_step_s": {k: v and round(v, 2) for k, v in train.items()},
              "ratio_train_bf16_vs_fp32": ratio(train["bf16"], train["float32"]),
              "ratio_is_lower_bound": None in (gen["bfloat16"], train["bf16"])}
    record("precision: float32 vs bfloat16 on this CPU", result,
           notes="generate_s: one left-padded batch of CMRC dev prompts (greedy, new_tokens each); train_step_s: one "
           "forward+backward of the LoRA answer loss on 2 of them (float32 weights, bf16 autocast or not); "
           "ratio > 1 means bf16 is slower; a measurement past limit_s is stopped (null) and its ratio is the lower "
           "bound limit_s / float32 time. `auto` picks bf16 only when native_bf16 is true.")


if __name__ == "__main__":
    main()
