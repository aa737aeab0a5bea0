"""`read --ray`: the Ray Data pipeline makes the same index as the single-process read, on real files."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datafiles import CMRC_DEV, SQUAD_DEV, squad_slice
from private_network import require_private_network, run_private

from ragtune.index.backends import index_exists, open_index
from ragtune.index.tokenize import tokenize


@pytest.fixture
def corpus(tmp_path):
    """A few real files (CMRC dev in Chinese, SQuAD in English) and one broken one."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    squad_slice(CMRC_DEV, folder / "cmrc_dev.json", 6)
    squad_slice(SQUAD_DEV, folder / "squad_dev.json", 2)
    (folder / "broken.json").write_text('{"data": [', encoding="utf-8")
    return folder


def _cli(*args: object) -> str:
    return shlex.join([sys.executable, "-m", "ragtune.cli", *map(str, args)])


def assert_same_index(expected, actual) -> None:
    """Same passages (ids, chunks, text, sources) in the same order, the same BM25 answers (each passage's own
    tokens as a query), vectors within float noise."""
    one, other = open_index(expected), open_index(actual)
    assert len(one) > 50
    assert [p.to_json() for p in other.passages] == [p.to_json() for p in one.passages]
    assert dict(other.sources) == dict(one.sources)
    for passage in list(one.passages)[:: max(1, len(one) // 20)]:
        query = tokenize(one.search_text(passage.embedding_text))
        rows, scores = one.lexical_top(query, 10)
        other_rows, other_scores = other.lexical_top(query, 10)
        assert other_rows.tolist() == rows.tolist()
        np.testing.assert_allclose(other_scores, scores, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(other.vectors()), np.asarray(one.vectors()), atol=1e-5)


def test_ray_read_in_process_makes_the_single_process_index(tmp_path, corpus, pipeline_factory):
    require_private_network()
    single = pipeline_factory("single")
    report = single.read([corpus])
    assert report.files_new == 2 and len(report.errors) == 1

    done = run_private(_cli("read", corpus, "--index", tmp_path / "ray", "--ray"))

    assert done.returncode == 0, done.stderr[-2000:]
    assert "broken.json: invalid JSON" in done.stderr  # the same one-line per-file error as read
    counts = f"read: 2 new, 0 changed, 0 unchanged, 0 deleted, 1 failed files; {report.documents} documents"
    assert counts in done.stdout
    assert_same_index(single.index_dir, tmp_path / "ray")


@pytest.mark.slow
def test_ray_read_on_a_started_cluster_is_incremental(tmp_path, corpus, pipeline_factory):
    """`ray start --head` on 127.0.0.1, then `read --ray ADDRESS` twice: the same index, then nothing to redo."""
    require_private_network()
    single = pipeline_factory("single")
    single.read([corpus])
    index = tmp_path / "ray"
    ray = shlex.quote(str(Path(sys.executable).parent / "ray"))
    script = "\n".join([
        f"{ray} start --head --node-ip-address=127.0.0.1 --port=6391 --num-cpus=3 --include-dashboard=false "
        "--disable-usage-stats >/dev/null",
        f"trap '{ray} stop --force >/dev/null 2>&1' EXIT",
        _cli("read", corpus, "--index", index, "--ray", "127.0.0.1:6391"),
        _cli("read", corpus, "--index", index, "--ray", "127.0.0.1:6391"),
    ])
    done = run_private(script)

    assert done.returncode == 0, done.stderr[-2000:]
    first, again = [line for line in done.stdout.splitlines() if line.startswith("read:")]
    assert first.startswith("read: 2 new, 0 changed, 0 unchanged")
    assert again.startswith("read: 0 new, 0 changed, 2 unchanged") and "passages +0 -0" in again
    assert_same_index(single.index_dir, index)


def test_ray_read_of_an_unreachable_cluster_is_one_line(tmp_path, corpus):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ragtune[ray]')")
    done = subprocess.run([sys.executable, "-m", "ragtune.cli", "read", str(corpus), "--index", str(tmp_path / "i"),
                           "--ray", "127.0.0.1:1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: cannot reach a Ray cluster at 127.0.0.1:1: Connection refused"]
    assert not index_exists(tmp_path / "i")
