"""Timings of `ragtune demo` from a cold cache (first run converts the packaged GGUF generator).

Usage: python bench/demo_timings.py [--warm]   (default cold: a fresh RAGTUNE cache directory)
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CpuMeter, record  # noqa: E402
from rich.console import Console  # noqa: E402

from ragtune.config import Config  # noqa: E402
from ragtune.demo.run import run_demo  # noqa: E402


def main() -> None:
    warm = "--warm" in sys.argv
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
