"""Does anyone's input break ragtune? Hostile inputs, kill -9 during `read`, concurrent writers (issue 19).

Usage: python -m bench.robustness [--kills 20] [--writers 8] [--timeout 60] [--quick]

- hostile: every case of tests/robustness/hostile.py (the corpus the robustness tests run) through the real CLI;
  each ends in a clean read, a one-line error, a hang (still running at --timeout), a traceback, a crash (a
  signal) or "wrong" (several lines for one error, a wrong exit code, raw control characters, a failed check).
  Goal: only clean reads and one-line errors. --quick leaves out the slow cases (the 10 MB lines).
- kill9: `ragtune read` of a small corpus (the bundled SQuAD sample) into a copy of an existing one-file index,
  SIGKILLed at a uniformly random time between 0.5 s and the uncontended read's duration, --kills times; the
  index must then load (open_index, vectors row-aligned) with the old or the new passage count.
  Goal: all survive.
- concurrent: --writers `ragtune read` processes, each of a different small file, started together into one
  fresh index, then again into that (now existing) index; a file is lost when its read exited 0 but its source
  is not in the final index. Goal: 0 lost.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from .common import ROOT, record

sys.path.insert(0, str(ROOT / "tests"))  # the hostile corpus's helpers import as the tests see them
from tests.robustness import hostile  # noqa: E402

WORK = ROOT / ".ragtune" / "bench" / "robustness"
NEW_CORPUS = ROOT / "ragtune" / "demo" / "data" / "squad_sample.json"


def start_read(index: Path, *paths: Path) -> subprocess.Popen:
    """`ragtune read PATHS --index INDEX` in its own process group, output kept for the verdict."""
    return subprocess.Popen([*hostile.CLI, "read", *map(str, paths), "--index", str(index)], env=hostile.cli_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def index_state(index: Path) -> tuple[int | None, set[str], str]:
    """(passages, source keys, problem) of the index as the library loads it; passages None when it does not."""
    import numpy as np

    from ragtune.index.backends import open_index

    try:
        store = open_index(index)
        rows = len(np.asarray(store.vectors()))
    except Exception as exc:  # any failure to load is what this bench counts
        return None, set(), f"{type(exc).__name__}: {exc}"[:300]
    if rows != len(store):
        return None, set(), f"{rows} vectors for {len(store)} passages"
    return len(store), set(store.sources), ""


def hostile_inputs(timeout: float, quick: bool) -> dict:
    cases = hostile.make_hostile_corpus(WORK / "hostile", slow=not quick)
    verdicts = []
    for case in cases:
        verdict = hostile.run_case(case, timeout)
        verdicts.append(verdict)
        print(f"{case.name}: {verdict.outcome} in {verdict.seconds:.1f}s {verdict.problem[:200]}", file=sys.stderr,
              flush=True)
    counts = Counter(v.outcome for v in verdicts)
    return {"tried": len(verdicts), **{kind.replace(" ", "_").replace("-", "_"): counts[kind]
                                       for kind in hostile.OUTCOMES},
            "max_case_s": round(max(v.seconds for v in verdicts), 1),
            "not_ok": {v.case: f"{v.outcome}: {v.problem[:160]}" for v in verdicts
                       if v.outcome not in (hostile.CLEAN, hostile.ERROR)}}


def kill_runs(runs: int, seed: int) -> dict:
    folder = WORK / "kill"
    base = folder / "base"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "keeper.txt").write_text(hostile.GOOD_TEXT)
    if start_read(base, folder / "docs" / "keeper.txt").wait() != 0:
        raise SystemExit("kill9: could not build the base index")
    old = index_state(base)[0]
    shutil.copytree(base, folder / "timed")
    start = time.perf_counter()
    done = start_read(folder / "timed", NEW_CORPUS)
    if done.wait() != 0:
        raise SystemExit(f"kill9: the uncontended read failed: {done.stderr.read()}")
    duration = time.perf_counter() - start
    new = index_state(folder / "timed")[0]
    rng = random.Random(seed)
    survived, states, finished, failures = 0, Counter(), 0, []
    for run in range(runs):
        index = folder / f"run{run:02d}"
        shutil.copytree(base, index)
        delay = rng.uniform(0.5, max(duration, 0.6))
        proc = start_read(index, NEW_CORPUS)
        time.sleep(delay)
        finished += proc.poll() is not None
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        passages, _, problem = index_state(index)
        state = "old" if passages == old else "new" if passages == new else "neither"
        states[state] += 1
        survived += state != "neither"
        if state == "neither":
            failures.append(f"run {run} killed at {delay:.2f}s: {problem or f'{passages} passages'}")
        print(f"kill9 run {run}: killed at {delay:.2f}s -> {state} ({passages} passages) {problem}", file=sys.stderr,
              flush=True)
    # the last killed index must take the next read
    after = start_read(folder / f"run{runs - 1:02d}", NEW_CORPUS)
    after_ok = after.wait() == 0 and index_state(folder / f"run{runs - 1:02d}")[0] == new
    return {"runs": runs, "survived": survived, "old": states["old"], "new": states["new"],
            "finished_before_kill": finished, "read_after_kill_ok": after_ok, "old_passages": old,
            "new_passages": new, "read_s": round(duration, 1), "failures": failures}


def concurrent_writers(writers: int) -> dict:
    folder = WORK / "concurrent"
    index = folder / "index"
    rounds = []
    lost_total = 0
    for round_no, label in enumerate(("fresh index", "existing index")):
        files = []
        for n in range(writers):
            path = folder / f"round{round_no}" / f"writer{n}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"Writer {n} of round {round_no} logged tide {n * 7 + round_no} at dawn. "
                            + hostile.GOOD_TEXT)
            files.append(path)
        procs = [start_read(index, path) for path in files]
        codes = []
        for proc in procs:
            try:
                proc.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
            codes.append(proc.returncode)
        _, sources, problem = index_state(index)
        kept = [str(p.resolve()) in sources for p in files]
        lost = sum(code == 0 and not here for code, here in zip(codes, kept))
        lost_total += lost
        rounds.append({"into": label, "writers": writers, "exit_0": codes.count(0), "in_index": sum(kept),
                       "lost": lost, "load_problem": problem})
        print(f"concurrent {label}: exits {codes}, in index {sum(kept)}/{writers}, lost {lost} {problem}",
              file=sys.stderr, flush=True)
    return {"writers": writers, "files_lost": lost_total, "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20, help="kill -9 runs (0: none)")
    parser.add_argument("--writers", type=int, default=8, help="concurrent `read` processes (0: none)")
    parser.add_argument("--timeout", type=float, default=hostile.TIMEOUT, help="seconds before a case counts as hung")
    parser.add_argument("--quick", action="store_true", help="leave out the slow hostile cases")
    parser.add_argument("--seed", type=int, default=19, help="kill times")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    result = {"bench": "robustness", "hostile": hostile_inputs(args.timeout, args.quick)}
    if args.kills:
        result["kill9"] = kill_runs(args.kills, args.seed)
    if args.writers:
        result["concurrent"] = concurrent_writers(args.writers)
    cli = " ".join(hostile.CLI[1:])
    record("robustness: hostile inputs, kill -9 during read, concurrent writers", result,
           notes=f"hostile: the {result['hostile']['tried']} cases of tests/robustness/hostile.py, each through "
           f"`{cli} ...` (or tests/robustness/probes.py for checkpoints, caches, reports) with a {args.timeout:g}s "
           "timeout; goal: every one a clean read or a one-line error (hang, traceback, crash, wrong: 0). kill9: "
           f"`ragtune read {NEW_CORPUS.relative_to(ROOT)} --index COPY` of a one-passage index, SIGKILLed at a "
           "random time in [0.5 s, the uncontended read's read_s]; survived = loads with the old or new passage "
           "count; goal: all. concurrent: `ragtune read writerN.txt --index SAME` x writers at once, into a fresh "
           "then an existing index; lost = exit 0 but not in the index; goal: 0.")


if __name__ == "__main__":
    main()
