"""How many generations does `ragtune synth` spend per kept pair? Answer first with cloze stand-ins
(`synth.answer_first: true`) against the default question+answer prompt, measured in the same run.

Usage: python -m bench.synth_yield [cmrc] [squad] [--n N]

Per set, `ragtune synth --n N` runs once per mode on bench/generator_tuning.py's training index (cmrc: the first
300 articles of the CMRC 2018 training zip; squad: the English SQuAD subset), from the same seeded passages.
Recorded per mode: pairs kept, generations spent, kept per generation, how many kept questions are cloze
stand-ins, the rejection reasons and the wall time. Generated answers are cached, so a mode whose prompts were
generated before costs little time on a rerun: compare modes by generations, not seconds.
"""

from __future__ import annotations

import argparse
import re
import time

from .common import commands, record, run_cli
from .splits import qa_split
from .stages import WORK, read_indexes

#: mode -> the config file it runs with
MODES = {"answer-first": "synth:\n  answer_first: true\n", "question+answer": "synth:\n  answer_first: false\n"}
_SUMMARY = re.compile(r"kept (\d+) of (\d+) generated pairs, (\d+) of them .*\(rejected: (.*)\) →")


def measure(name: str, n: int, log: list[str]) -> dict:
    work = WORK / name
    paths = qa_split(name, work, 300, 500)
    index = read_indexes(work, paths, log)
    rows = {}
    for mode, yaml_text in MODES.items():
        config = work / f"synth-yield-{mode}.yaml"
        config.write_text(yaml_text, encoding="utf-8")
        start = time.perf_counter()
        out = run_cli(["synth", "--index", str(index), "--out", str(work / f"synth-yield-{mode}.jsonl"),
                       "--n", str(n), "--config", str(config)], log)
        seconds = time.perf_counter() - start
        kept, generated, cloze, rejected = _SUMMARY.search(out).groups()
        rows[mode] = {"kept": int(kept), "generated": int(generated),
                      "kept_per_generation": round(int(kept) / int(generated), 3), "cloze": int(cloze),
                      "rejected": rejected, "seconds": round(seconds, 1)}
    base, new = rows["question+answer"], rows["answer-first"]
    return {"set": name, "n": n, "modes": rows,
            "yield_ratio": round(new["kept_per_generation"] / base["kept_per_generation"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=["cmrc", "squad"], choices=["cmrc", "squad"])
    parser.add_argument("--n", type=int, default=30, help="pairs to keep per mode")
    args = parser.parse_args()
    log: list[str] = []
    results = [measure(name, args.n, log) for name in args.sets]
    record("synth yield: answer first vs question+answer", {"bench": "synth_yield", "sets": results},
           notes="same seeded passages per mode; yield_ratio = kept per generation, answer-first over "
                 "question+answer. Commands: " + commands(log))


if __name__ == "__main__":
    main()
