"""Peak memory (RSS) of `ragtune read` on synthetic corpora of two sizes, and what it grows by per 100k passages.

Each size is a fresh `ragtune read` subprocess into a new index; its peak RSS comes from
getrusage(RUSAGE_CHILDREN) in a one-child wrapper. Baseline (same run): a read of a single one-passage file,
i.e. the embedder and libraries loaded and nothing else. The per-100k figure is a straight line through the
two sizes, extrapolated (memory not yet measured at 100k).

Usage: python -m bench.read_memory [--sizes 20000 40000] [--words 40] [--save-every N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import ROOT, record

ROWS_PER_FILE = 1000


def write_corpus(folder: Path, passages: int, words: int, seed: int = 0) -> Path:
    """`passages` short English-like documents (Zipf-distributed made-up words) as JSON-lines files."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "du", "ni", "por", "esh", "ul", "gra", "fin"]
    vocab = ["".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(30_000)]
    ranks = np.arange(1, len(vocab) + 1)
    weights = 1 / ranks / (1 / ranks).sum()
    folder.mkdir(parents=True)
    for start in range(0, passages, ROWS_PER_FILE):
        rows = []
        for i in range(start, min(start + ROWS_PER_FILE, passages)):
            text = " ".join(rng.choice(vocab, size=words, p=weights)).capitalize() + "."
            rows.append(json.dumps({"id": f"p{i}", "text": text}))
        (folder / f"part{start // ROWS_PER_FILE:04d}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def peak_rss_of_read(corpus: Path, index: Path, config: Path | None) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of `ragtune read corpus --index index`, run as a user runs it."""
    command = [sys.executable, "-m", "ragtune.cli", "read", str(corpus), "--index", str(index)]
    if config is not None:
        command += ["--config", str(config)]
    wrapper = ("import resource, subprocess, sys, json\n"
               f"done = subprocess.run({command!r}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
               "if done.returncode: sys.exit(done.stderr[-2000:])\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, env=env, check=False)
    if out.returncode:
        raise SystemExit(f"read failed: {out.stderr}")
    return int(out.stdout.strip()) / 1024, time.perf_counter() - start  # ru_maxrss is KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs=2, default=[20_000, 40_000])
    parser.add_argument("--words", type=int, default=40, help="words per passage (one chunk each)")
    parser.add_argument("--save-every", type=int, default=None, help="index.save_every_passages (default: config)")
    args = parser.parse_args()
    from ragtune.config import Config

    save_every = args.save_every or Config().index.save_every_passages
    result: dict = {"bench": "read_memory", "words_per_passage": args.words, "save_every_passages": save_every}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "config.yaml"
        config.write_text(f"index:\n  save_every_passages: {save_every}\n", encoding="utf-8")
        (tmp / "one").mkdir()
        (tmp / "one" / "one.txt").write_text("A single short passage.", encoding="utf-8")
        result["baseline_peak_rss_mib"], _ = (round(v, 1) for v in peak_rss_of_read(tmp / "one", tmp / "i0", config))
        print(f"baseline (one passage): {result['baseline_peak_rss_mib']} MiB", file=sys.stderr, flush=True)
        points = []
        for size in args.sizes:
            corpus = write_corpus(tmp / f"corpus{size}", size, args.words)
            rss, seconds = peak_rss_of_read(corpus, tmp / f"index{size}", config)
            points.append((size, rss))
            result[f"peak_rss_mib_{size}"] = round(rss, 1)
            result[f"read_s_{size}"] = round(seconds, 1)
            print(f"{size} passages: {rss:.0f} MiB peak in {seconds:.0f}s", file=sys.stderr, flush=True)
    (n1, r1), (n2, r2) = points
    per_100k = (r2 - r1) / (n2 - n1) * 100_000
    result["growth_mib_per_100k_passages"] = round(per_100k, 1)
    result["peak_rss_mib_100k_extrapolated"] = round(r2 + per_100k * (100_000 - n2) / 100_000, 1)
    result["over_baseline_mib_per_100k_passages_at_largest"] = round((r2 - result["baseline_peak_rss_mib"])
                                                                      / n2 * 100_000, 1)
    regime = ("both sizes fit in one batch (below save_every_passages), where the new passages waiting to be "
              "saved grow with the corpus too: an upper bound on the growth of a larger, batched read. "
              if args.sizes[1] <= save_every else
              f"the reads save every {save_every} passages, so the new passages held are bounded by a batch. ")
    record(
        f"read memory ({args.sizes[0]} and {args.sizes[1]} synthetic passages)",
        result,
        notes=regime + "peak RSS of a `ragtune read` subprocess (getrusage RUSAGE_CHILDREN) on generated JSON-lines "
        f"files ({ROWS_PER_FILE} passages each, {args.words} made-up Zipf-distributed words a passage, one chunk) "
        "with the default embedder; baseline = the same command on one one-passage file (models and libraries "
        "only). growth per 100k passages and the 100k peak are linear extrapolations through the two measured "
        "sizes, not measurements. The index itself (passages, BM25 tokens, vectors) stays in memory by design; "
        "what save_every_passages bounds is the new passages waiting to be embedded and saved.",
    )


if __name__ == "__main__":
    main()
