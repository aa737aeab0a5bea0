"""Writers that run at the same time on one index all land: each loads the index under the write lock."""

import subprocess
import sys

from ragtune.index.backends import open_index

TOPICS = ["volcanoes", "glaciers", "deserts", "coral reefs"]


def _text(topic: str) -> str:
    """A few passages' worth, so each writer spends a while embedding while the others wait or load."""
    return "\n\n".join(f"Paragraph {i} about {topic}: " + " ".join(f"{topic} fact {i}.{j}." for j in range(60))
                       for i in range(4))


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "ragtune.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_concurrent_reads_and_a_delete_lose_nothing(tmp_path):
    index = tmp_path / "index"
    files = []
    for topic in TOPICS:
        files.append(tmp_path / f"{topic.replace(' ', '_')}.txt")
        files[-1].write_text(_text(topic), encoding="utf-8")
    first = subprocess.run([sys.executable, "-m", "ragtune.cli", "read", files[0], "--index", index],
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr

    writers = [_start("read", path, "--index", index) for path in files[1:]]
    writers.append(_start("read", files[0], "--delete", "--index", index))
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr

    store = open_index(index)
    assert {p.id for p in store.passages} == {path.name for path in files[1:]}
    assert set(store.sources) == {str(path.resolve()) for path in files[1:]}
