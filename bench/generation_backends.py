"""How fast does each generation backend answer, and as well as torch? Ratios measured in one run.

Usage: python -m bench.generation_backends [--sets cmrc squad] [--limit 100] [--backends torch openvino:int8 ...]
           [--adapter DIR [--adapter-only]] [--skip-eval] [--skip-decode]

A backend is `name[:precision[:kv-cache precision]]`, then any generator settings as `,key=value`
(`openvino:int8,prompt_lookup=0`: the same backend without prompt-lookup decoding).

- decode: one ~900-token prompt (CMRC dev passages), loaded once per backend in its own process (so its peak RSS
  is its own): time to first token and decode tokens/s over a long answer (median of 3), and the memory-bandwidth
  bound (weight bytes read per token / measured copy bandwidth); with --adapter, the same with the LoRA applied.
  The answer asked for retells the passages (as RAG answers quote them: prompt lookup drafts from them);
  `free_tok_s` asks the same passages for an English summary, which cannot be copied from the Chinese text.
- eval: `ragtune eval --limit N --backend B --json` on the reader-quality test files and open-corpus indexes
  (bench/reader_quality.py), each run with an empty answer cache (a private RAGTUNE_CACHE whose converted models
  are links to the real ones), so its wall time is generation, not cache hits, and Chinese questions in fused
  order (`retrieval.reranker_zh: none`: every backend reads the same passages); with --adapter also on cmrc.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import RAGTUNE, ROOT, SHARED, commands, record, run_child
from .reader_quality import prepare

WORK = ROOT / ".ragtune" / "bench" / "generation-backends"
DEFAULT_BACKENDS = ["torch", "openvino:int8", "openvino:int4"]


def split_backend(backend: str) -> tuple[str, str, str]:
    """"openvino:int8:f16,prompt_lookup=0" -> name, weight precision, KV-cache precision ("" where not given)."""
    name, _, rest = backend.split(",")[0].partition(":")
    precision, _, kv = rest.partition(":")
    return name, precision, kv


def backend_settings(backend: str) -> dict[str, str]:
    """The generator settings a backend spec names: its precisions and any `,key=value` after them."""
    _, precision, kv = split_backend(backend)
    extra = dict(item.split("=", 1) for item in backend.split(",")[1:])
    return {**({"precision": precision} if precision else {}), **({"kv_cache_precision": kv} if kv else {}),
            **extra}


def config_for(backend: str, max_new_tokens: int | None = None):
    from ragtune.config import Config

    generator = {"backend": split_backend(backend)[0], **backend_settings(backend)}
    if max_new_tokens:
        generator["max_new_tokens"] = max_new_tokens
    return Config(generator=generator)


FREE_REQUEST = "Summarise the passages above in English, in your own words."


def long_prompt(first: int = 0, tokens: int = 900, request: str = "请详细地逐段复述以上每一段的内容。") -> list[dict]:
    """CMRC dev passages from article `first` on, up to ~`tokens` tokens, then a request for a long answer (decode
    speed needs length). Each timed prompt starts elsewhere, so no prefix cache serves it."""
    data = json.loads((SHARED / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))["data"]
    passages, size = [], 0
    for article in data[first:]:
        text = article["paragraphs"][0]["context"]
        if size + len(text) > tokens * 1.35:  # ~1.35 characters a token for these passages
            break
        passages.append(f"[{len(passages) + 1}] {text}")
        size += len(text)
    return [{"role": "system", "content": "Answer from the passages."},
            {"role": "user", "content": "\n\n".join(passages) + "\n\n" + request}]


def probe(backend: str, adapter: str | None) -> dict:
    """Runs in a child process: load, warm up, then time three long answers."""
    from ragtune.generate import create_generator

    config = config_for(backend, max_new_tokens=128)
    start = time.perf_counter()
    generator = create_generator(config, adapter=adapter)
    load_s = time.perf_counter() - start
    list(generator.stream(long_prompt(100)))  # warm-up
    firsts, rates, sizes, free_rates = [], [], [], []
    for i in range(3):
        prompt = long_prompt(10 * i)
        sizes.append(generator.budget.count(prompt) if generator.budget else None)
        first, rate, tokens = _timed_stream(generator, prompt)
        firsts.append(first)
        rates.append(rate)
        free_rates.append(_timed_stream(generator, long_prompt(10 * i + 5, request=FREE_REQUEST))[1])
    return {"load_s": round(load_s, 1), "prompt_tokens": sizes, "answer_tokens": tokens,
            "ttft_s": round(statistics.median(firsts), 3), "decode_tok_s": round(statistics.median(rates), 2),
            "free_tok_s": round(statistics.median(free_rates), 2),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def _timed_stream(generator, prompt: list[dict]) -> tuple[float, float, int]:
    """(time to first piece, decode tokens/s after it, answer tokens) of one streamed answer."""
    start = time.perf_counter()
    first, text = None, ""
    for piece in generator.stream(prompt):
        first = first or time.perf_counter()
        text += piece
    end = time.perf_counter()
    tokens = len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])
    return first - start, (tokens - 1) / max(end - first, 1e-9), tokens


def copy_bandwidth_gbs() -> float:
    """Measured memory copy bandwidth (bytes read + written per second, best of 5 copies of 512 MB)."""
    import numpy as np

    a = np.ones(2**29 // 8)
    b = np.empty_like(a)
    best = min(_timed(lambda: np.copyto(b, a)) for _ in range(5))
    return 2 * a.nbytes / best / 1e9


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def weight_bytes_per_token(backend: str) -> float:
    """Bytes of weights one decoded token reads: every weight matrix but the input embedding (a row lookup)."""
    from ragtune.config import Config

    name, precision, _ = split_backend(backend)
    if name == "openvino":
        folder = Config().resolved_cache_dir / "openvino" / f"{Config().generator.name}-{precision}"
        return _openvino_matmul_weight_bytes(folder / "openvino_model.xml")
    from ragtune.hardware import resolve_dtype

    params = 494_032_768  # Qwen2.5-0.5B: its output matrix is the tied embedding, read in full every token
    return params * (2 if str(resolve_dtype("auto")).endswith("bfloat16") else 4)


def _openvino_matmul_weight_bytes(xml: Path) -> float:
    """Constants (weights, scales, zero points) that reach a MatMul within a few decompression ops."""
    import openvino as ov

    total = 0
    for op in ov.Core().read_model(xml).get_ops():
        if op.get_type_name() != "Constant" or op.get_byte_size() < 4096:
            continue
        frontier, hops = [op], 0
        while frontier and hops < 8:
            frontier = [t.get_node() for n in frontier for out in n.outputs() for t in out.get_target_inputs()]
            if any(n.get_type_name() == "MatMul" for n in frontier):
                total += op.get_byte_size()
                break
            hops += 1
    return total


def run_probe(backend: str, adapter: str | None) -> dict:
    return run_child("bench.generation_backends", ["--probe", backend, *(["--adapter", adapter] if adapter else [])])


def private_cache(root: Path) -> Path:
    """A cache folder with no cached answers: every entry of the real cache linked, but generations.sqlite."""
    from ragtune.config import Config

    real = Config().resolved_cache_dir
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="cache-", dir=root))
    for entry in real.iterdir():
        if not entry.name.startswith("generations.sqlite"):
            (folder / entry.name).symlink_to(entry)
    return folder


def eval_run(test: Path, index: Path, backend: str, limit: int, adapter: str | None, log: list[str],
             top_k: int | None = None, generator: dict | None = None) -> dict:
    """`ragtune eval` with no cached answers; `top_k` and `generator` settings (e.g. max_passage_tokens) vary what
    the prompts hold."""
    name, precision, _ = split_backend(backend)
    args = ["eval", str(test), "--index", str(index), "--limit", str(limit), "--backend", name, "--json"]
    if adapter:
        args += ["--adapter", adapter]
    if top_k:
        args += ["--top-k", str(top_k)]
    env = dict(os.environ, RAGTUNE_CACHE=str(private_cache(WORK)))
    # retrieval is not what is compared: Chinese questions keep the fused order (the generator-ql reranker would
    # load a torch copy of the generator beside an OpenVINO one, and spend minutes on it per run)
    settings = {**backend_settings(backend), **(generator or {})}
    config_file = WORK / f"eval-{precision or name}{''.join(f'-{k}{v}' for k, v in settings.items())}.yaml"
    config_file.write_text("retrieval:\n  reranker_zh: none\n" +
                           ("generator:\n" + "".join(f"  {k}: {v}\n" for k, v in settings.items())
                            if settings else ""))
    args += ["--config", str(config_file)]
    shown = " ".join(shlex.quote(a) for a in ["ragtune", *args])
    print(f"$ {shown}", file=sys.stderr, flush=True)
    log.append(shown)
    start = time.perf_counter()
    done = subprocess.run([*RAGTUNE, *args], stdout=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shown}")
    metrics = json.loads(done.stdout)
    return {"n": metrics["n"], **{k: metrics["answer"][k] for k in ("em", "f1")}, "eval_s": round(seconds, 1)}


def adapter_settings(args, name: str) -> list[str | None]:
    """None for the base model, then the adapter where one is given (it was trained on CMRC, so only there)."""
    if not args.adapter or name != "cmrc":
        return [None]
    return [args.adapter] if args.adapter_only else [None, args.adapter]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="*", default=["cmrc", "squad"])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--backends", nargs="+", default=DEFAULT_BACKENDS)
    parser.add_argument("--adapter", help="a generator LoRA (trained on CMRC): timed and scored on cmrc too")
    parser.add_argument("--adapter-only", action="store_true",
                        help="with --adapter: only the adapter rows (the base rows were measured in an earlier run)")
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.adapter)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    result: dict = {"bench": "generation_backends", "limit": args.limit, "decode": {}, "eval": []}
    if not args.skip_decode:
        bandwidth = copy_bandwidth_gbs()
        result["copy_bandwidth_gbs"] = round(bandwidth, 1)
        for backend in args.backends:
            for adapter in adapter_settings(args, "cmrc"):
                row = run_probe(backend, adapter)
                bound = bandwidth * 1e9 / weight_bytes_per_token(backend)
                row.update(bound_tok_s=round(bound, 1), of_bound=round(row["decode_tok_s"] / bound, 2))
                result["decode"][backend + ("+adapter" if adapter else "")] = row
                print(json.dumps({backend: row}), file=sys.stderr, flush=True)
        base = result["decode"].get("torch")
        if base:
            for row in result["decode"].values():
                row["decode_vs_torch"] = round(row["decode_tok_s"] / base["decode_tok_s"], 2)
                row["free_vs_torch"] = round(row["free_tok_s"] / base["free_tok_s"], 2)
    if not args.skip_eval:
        for name in args.sets:
            test, index = prepare(name, log)
            for adapter in adapter_settings(args, name):
                rows = {}
                for backend in args.backends:
                    rows[backend] = eval_run(test, index, backend, args.limit, adapter, log)
                    print(json.dumps({name: rows[backend]}), file=sys.stderr, flush=True)
                torch_row = rows.get("torch")
                for backend, row in rows.items():
                    if torch_row:
                        row["speedup"] = round(torch_row["eval_s"] / row["eval_s"], 2)
                        row["f1_vs_torch"] = round(row["f1"] - torch_row["f1"], 1)
                    result["eval"].append({"set": name, "backend": backend, "adapter": bool(adapter), **row})
    record(f"generation backends ({', '.join(args.backends)})", result,
           notes="decode: one ~900-token Chinese prompt, 128 new tokens at most, median of 3 after a warm-up, each "
           "backend in its own process (peak_rss_gb is that process's); of_bound = decode tok/s / (copy bandwidth "
           "/ weight bytes read per token: one pass a token; prompt lookup checks several tokens a pass, so it can "
           "pass 1); free_tok_s: the same passages summarised in English (nothing to copy). eval: wall time of the "
           "whole `ragtune eval` command (model load and retrieval included) with no cached answers; speedup and "
           "f1_vs_torch against the torch row of the same set and adapter. Commands: " + commands(log))


if __name__ == "__main__":
    main()
