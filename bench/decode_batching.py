"""What continuous batching buys on this machine, by workload: the server's decoder (OpenVINO, default config)
given 16 requests one at a time, then 16 other requests at once, in two regimes measured in one run.

Usage: python -m bench.decode_batching [--requests 16] [--long-answer-tokens 128]

- `long_answer`: a short prompt (one CMRC dev passage, ~250 tokens) and a long free answer (an English summary,
  up to `--long-answer-tokens`): decoding dominates; a single stream is bound by reading the weights, which one
  step of a batch reads once for every sequence, so this is where batching can gain most.
- `rag_answer`: a ~900-token prompt (the passages a question brings) and a short answer (up to 16 tokens), as
  `ragtune serve` answers: the prefill dominates, and a prefill is compute-bound, so a batch saves little of it.
Each request starts at its own CMRC article, so no prompt is served from the prefix cache. Rows: wall seconds,
answers/s, generated tokens/s, the most requests decoded together (`peak`), and batched ÷ one at a time.
This is the mechanism behind `bench.serve_load`'s ask rows (issue 22's "batched >= 4x at 16 clients").
"""

from __future__ import annotations

import argparse
import time

from .common import record
from .generation_backends import FREE_REQUEST, long_prompt

SHORT_REQUEST = "In one short phrase: what is the first passage about?"


def regime_prompts(regime: str, first: int, count: int) -> list[list[dict]]:
    if regime == "long_answer":
        return [long_prompt(first + i, tokens=250, request=FREE_REQUEST) for i in range(count)]
    return [long_prompt(first + 5 * i, tokens=900, request=SHORT_REQUEST) for i in range(count)]


def timed(decoder, tokenizer, prompts: list[list[dict]], together: bool) -> dict:
    decoder.peak = 0
    start = time.perf_counter()
    answers = decoder.generate(prompts) if together else [decoder.generate([p])[0] for p in prompts]
    wall = time.perf_counter() - start
    tokens = sum(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
    return {"requests": len(prompts), "seconds": round(wall, 2), "answers_per_s": round(len(prompts) / wall, 3),
            "tokens": tokens, "tokens_per_s": round(tokens / wall, 1), "peak": decoder.peak}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--long-answer-tokens", type=int, default=128)
    args = parser.parse_args()
    from ragtune.config import Config
    from ragtune.generate import create_generator

    result: dict = {"bench": "decode_batching", "requests": args.requests}
    for regime, max_new_tokens, offset in (("long_answer", args.long_answer_tokens, 0), ("rag_answer", 16, 40)):
        generator = create_generator(Config(generator={"backend": "openvino", "max_new_tokens": max_new_tokens}))
        decoder = generator.decoder()
        decoder.generate([long_prompt(200, tokens=300, request=FREE_REQUEST)])  # warm-up
        n = args.requests
        alone = timed(decoder, generator.tokenizer, regime_prompts(regime, offset, n), together=False)
        together = timed(decoder, generator.tokenizer, regime_prompts(regime, offset + 5 * n + 1, n), together=True)
        together["vs_one_at_a_time"] = round(together["answers_per_s"] / alone["answers_per_s"], 2)
        result[regime] = {"max_new_tokens": max_new_tokens, "one_at_a_time": alone, "batched": together}
        print(result[regime], flush=True)
        del decoder, generator
    record("decode batching (the serve decoder, by workload)", result,
           notes="generator.backend openvino, default config (int8, f16 KV cache, prompt lookup 5, decode_batch "
           "16); one_at_a_time: each request submitted when the last one ended; batched: all submitted "
           "together (other prompts, same shapes); long_answer: ~250-token prompt, English summary of up to "
           "max_new_tokens; rag_answer: ~900-token prompt, a phrase of up to 16 tokens")


if __name__ == "__main__":
    main()
