"""kill -9 at any moment of `ragtune read` leaves an index that loads and holds a consistent state.

The runs commit every few passages, so a kill lands before, between and inside commits; every state
left must be the old index plus, for each file recorded, exactly its passages (a prefix while `partial`).
"""

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict

import pytest

from ragtune.index.backends import open_index
from ragtune.index.backends.embedded import engine_files_of

pytestmark = pytest.mark.slow  # several real CLI runs: about a minute on 2 busy cores


def _read(index, corpus, config):
    return subprocess.Popen([sys.executable, "-m", "ragtune.cli", "read", str(corpus), "--index", str(index),
                             "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _by_source(store):
    grouped = defaultdict(list)
    for p in store.passages:
        grouped[p.source].append((p.id, p.chunk, p.text))
    return dict(grouped)


def _check_consistent(index, old, full):
    """The state a kill left: loadable, the old file intact, every recorded file complete or a clean prefix."""
    store = open_index(index)
    got = _by_source(store)
    assert set(got) <= set(store.sources) and len(store.vectors()) == len(store)
    for key, passages in old.items():
        assert got[key] == passages and not store.sources[key].get("partial")
    for key, meta in store.sources.items():
        want = old.get(key) or full[key]
        if meta.get("partial"):
            assert got.get(key, []) == want[:len(got.get(key, []))]
        else:
            assert got.get(key, []) == want
    return "old" if len(store) == sum(map(len, old.values())) else (
        "new" if len(store) == sum(map(len, full.values())) else "between")


def test_sigkill_at_random_moments_leaves_a_consistent_index(tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for n in range(5):
        (corpus / f"note{n}.txt").write_text(f"Note {n} is about the harbour crane number {n}.", encoding="utf-8")
    rows = [{"id": f"row{i}", "text": f"Row {i} records the tide height on day {i} at the old pier."}
            for i in range(14)]
    (corpus / "tides.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "base.txt").write_text("The base document was indexed before any crash.", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text("index:\n  save_every_passages: 4\n", encoding="utf-8")

    pristine = tmp_path / "pristine"
    assert _read(pristine, tmp_path / "base.txt", config).wait(timeout=300) == 0
    old = _by_source(open_index(pristine))
    reference = tmp_path / "reference"
    shutil.copytree(pristine, reference)
    started = time.perf_counter()
    assert _read(reference, corpus, config).wait(timeout=300) == 0
    lifetime = time.perf_counter() - started
    full = _by_source(open_index(reference))
    assert len(full) == 7 and sum(map(len, full.values())) == 20

    rng = random.Random(19)
    seen = []
    for run in range(6):
        index = tmp_path / f"run{run}"
        shutil.copytree(pristine, index)
        writer = _read(index, corpus, config)
        time.sleep(rng.uniform(0.3, 1.1) * lifetime)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        seen.append(_check_consistent(index, old, full))
        # the next read finishes the job from whatever the kill left, and tidies up after itself
        assert _read(index, corpus, config).wait(timeout=300) == 0
        assert _check_consistent(index, old, full) == "new"
        left = {p.name for p in index.iterdir()} - {".lock", *(f"catalog.sqlite{x}" for x in ("", "-wal", "-shm"))}
        assert left <= engine_files_of(index), left  # only the live state's files and the one before it
    print("states a kill left:", seen)
