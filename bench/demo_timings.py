"""Timings of `ragtune demo` from a cold cache (first run converts the packaged GGUF generator).

Usage: python -m bench.demo_timings [--warm]   (default cold: a fresh RAGTUNE cache directory)
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

from rich.console import Console

from ragtune.config import Config
from ragtune.demo.run import run_demo

from .common import CpuMeter, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", action="store_true", help="use the usual cache (default: a fresh, cold one)")
    warm = parser.parse_args().warm
    with tempfile.TemporaryDirectory() as tmp:
        config = Config() if warm else Config(cache_dir=Path(tmp) / "cache")
        with CpuMeter() as total:
            rows = run_demo(config, Path(tmp) / "demo-index", console=Console(file=io.StringIO()))
    record(
        f"demo timings ({'warm' if warm else 'cold cache, includes GGUF conversion'})",
        {
            "bench": "demo_timings", "cold": not warm, "total_s": round(total.seconds, 1),
            "cpu_util": round(total.cpu_util, 2),
            "questions": [
                {"q": r["question"], "answer": r["answer"], "retrieve_s": round(r["retrieve_s"], 3),
                 "first_token_s": round(r.get("first_token_s", 0), 2), "generate_s": round(r.get("generate_s", 0), 2)}
                for r in rows
            ],
        },
        notes="goal: under 600 s on 2 cores including first-run conversion",
    )


if __name__ == "__main__":
    main()
