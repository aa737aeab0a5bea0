"""Knowledge-graph build cost on a small real corpus: a full `ragtune graph build`, a rebuild with nothing changed,
the update a `read` of one changed file runs, `read --delete` of one file, and a lost graph rebuilt from the
generation cache — each against the same run's `ragtune read` of the corpus (the baseline).

    python -m bench.graph_build hotpotqa [--passages 100] [--files 10]
    python -m bench.graph_build duie [--passages 100] [--schema ../shared/data/kg/duie_schema.json]

The corpus is written as FILES jsonl files of equal size. The generation cache starts empty (a private cache
folder whose models link to the real one), so the full build generates every passage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import SHARED, commands, record

CORPORA = {"hotpotqa": SHARED / "multihop" / "hotpotqa-dev-distractor-98.jsonl",
           "duie": SHARED / "kg" / "duie2-dev-1000.jsonl"}
_GRAPH_LINE = re.compile(r"graph: (\d+) passages, (\d+) triples, (\d+) entities \(extracted (\d+), (\d+) generated; "
                         r"removed (\d+); unchanged (\d+)\) in ([\d.]+)s")


def passages(corpus: str, n: int) -> list[dict]:
    """The first `n` distinct passages: HotpotQA paragraphs (id = title, pooled across questions) or DuIE
    sentences."""
    found: dict[str, dict] = {}
    with open(CORPORA[corpus], encoding="utf-8") as fh:
        for number, line in enumerate(fh):
            row = json.loads(line)
            if corpus == "duie":
                found.setdefault(f"duie-{number}", {"id": f"duie-{number}", "title": "", "text": row["text"]})
            else:
                for title, sentences in row["context"]:
                    found.setdefault(title, {"id": title, "title": title, "text": "".join(sentences).strip()})
            if len(found) >= n:
                break
    return list(found.values())[:n]


def ragtune(args: list[str], env: dict, log: list[str]) -> tuple[str, float]:
    shown = "ragtune " + " ".join(args)
    print(f"$ {shown}", file=sys.stderr, flush=True)
    log.append(shown)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ragtune.cli", *args], stdout=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shown}")
    return done.stdout, time.perf_counter() - start


def graph_line(stdout: str) -> dict:
    found = _GRAPH_LINE.search(stdout)
    if found is None:
        raise SystemExit(f"no graph line in: {stdout}")
    keys = ("passages", "triples", "entities", "extracted", "generated", "removed", "unchanged", "seconds")
    return {k: (float(v) if k == "seconds" else int(v)) for k, v in zip(keys, found.groups())}


def private_cache(root: Path) -> Path:
    """A cache folder sharing the real one's converted models but with an empty generation cache."""
    real = Path(os.environ.get("RAGTUNE_CACHE", "~/.cache/ragtune")).expanduser()
    cache = root / "cache"
    cache.mkdir()
    for entry in real.iterdir() if real.is_dir() else []:
        if not entry.name.startswith("generations.sqlite"):
            (cache / entry.name).symlink_to(entry)
    return cache


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", choices=sorted(CORPORA))
    parser.add_argument("--passages", type=int, default=100)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--schema", default=None)
    args = parser.parse_args()
    rows = passages(args.corpus, args.passages)
    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "RAGTUNE_CACHE": str(private_cache(root)),
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        docs, index = root / "docs", root / "index"
        docs.mkdir()
        per = -(-len(rows) // args.files)
        files = []
        for i in range(0, len(rows), per):
            path = docs / f"part{i // per:02d}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[i:i + per]),
                            encoding="utf-8")
            files.append(path)
        _, read_s = ragtune(["read", str(docs), "--index", str(index)], env, log)
        build = ["graph", "build", "--index", str(index)] + (["--schema", args.schema] if args.schema else [])
        out, build_wall = ragtune(build, env, log)
        full = graph_line(out)
        out, again_wall = ragtune(["graph", "build", "--index", str(index)], env, log)
        again = graph_line(out)

        # one file changed: its first passage edited (the file's other passages come back unchanged)
        changed = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
        changed[0]["text"] += " This sentence was added for the benchmark."
        files[0].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in changed), encoding="utf-8")
        out, changed_wall = ragtune(["read", str(files[0]), "--index", str(index)], env, log)
        update = graph_line(out)
        out, delete_wall = ragtune(["read", "--delete", str(files[1]), "--index", str(index)], env, log)
        deleted = graph_line(out)
        (index / "graph.sqlite").unlink()
        out, cached_wall = ragtune(build, env, log)  # the lost graph took its settings (--schema) with it
        cached = graph_line(out)
    result = {
        "corpus": args.corpus, "passages": len(rows), "files": len(files), "schema": bool(args.schema),
        "read_s": round(read_s, 1),
        "build": {**full, "wall_s": round(build_wall, 1),
                  "s_per_passage": round(full["seconds"] / max(full["passages"], 1), 2)},
        "rebuild_unchanged": {"seconds": again["seconds"], "generated": again["generated"]},
        "read_one_changed_file": {"graph_update_s": update["seconds"], "extracted": update["extracted"],
                                  "generated": update["generated"], "read_wall_s": round(changed_wall, 1),
                                  "share_of_full_build": round(update["seconds"] / max(full["seconds"], 1e-9), 3)},
        "read_delete_one_file": {"graph_update_s": deleted["seconds"], "removed": deleted["removed"],
                                 "generated": deleted["generated"], "read_wall_s": round(delete_wall, 1)},
        "lost_graph_rebuilt_from_cache": {"seconds": cached["seconds"], "generated": cached["generated"],
                                          "triples": cached["triples"]},
        "load_avg": round(os.getloadavg()[0], 1),
    }
    record(f"Knowledge graph build ({args.corpus}, {len(rows)} passages)", result,
           f"busy shared 2-core machine (load average {result['load_avg']} at the end); generator "
           f"{'with the DuIE schema' if args.schema else 'without a schema'}, an empty generation cache; "
           f"commands: {commands(log)}")


if __name__ == "__main__":
    main()
