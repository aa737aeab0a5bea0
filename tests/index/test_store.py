"""Index writes are atomic: a crash at any point leaves the previous snapshot live."""

import os

import numpy as np
import pytest

from ragtune.index.bm25 import BM25Index
from ragtune.index.store import IndexStore
from ragtune.read.reader import embedding_text


@pytest.fixture
def indexed(tmp_path, pipeline_factory):
    (tmp_path / "one.txt").write_text("The first document talks about tea.", encoding="utf-8")
    pipeline = pipeline_factory()
    pipeline.read([tmp_path / "one.txt"])
    return tmp_path, pipeline


def test_crash_during_write_keeps_previous_index(indexed, monkeypatch):
    tmp_path, pipeline = indexed
    before = IndexStore.current_snapshot(pipeline.index_dir)
    (tmp_path / "two.txt").write_text("The second document talks about coffee.", encoding="utf-8")

    def crash(self, folder):
        raise KeyboardInterrupt  # as if killed halfway through writing the snapshot

    monkeypatch.setattr(BM25Index, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        pipeline.read([tmp_path / "two.txt"])
    monkeypatch.undo()

    assert IndexStore.current_snapshot(pipeline.index_dir) == before
    store = IndexStore.load(pipeline.index_dir)
    assert [p.id for p in store.passages] == ["one.txt"]
    assert not [p for p in pipeline.index_dir.iterdir() if p.name.startswith(".tmp-")]
    # the next read succeeds and picks the new file up
    assert pipeline.read([tmp_path / "two.txt"]).passages_total == 2


def test_hard_kill_leftovers_are_ignored_and_cleaned(indexed):
    tmp_path, pipeline = indexed
    live = IndexStore.current_snapshot(pipeline.index_dir)
    # a kill -9 can leave a half-written temp folder and a renamed snapshot CURRENT never pointed at
    (pipeline.index_dir / ".tmp-snap-dead").mkdir()
    (pipeline.index_dir / ".tmp-snap-dead" / "passages.jsonl").write_text("garbage")
    orphan = pipeline.index_dir / "snap-orphan"
    orphan.mkdir()
    assert IndexStore.current_snapshot(pipeline.index_dir) == live
    assert len(IndexStore.load(pipeline.index_dir)) == 1

    (tmp_path / "two.txt").write_text("Another document.", encoding="utf-8")
    pipeline.read([tmp_path / "two.txt"])
    names = sorted(p.name for p in pipeline.index_dir.iterdir() if p.is_dir())
    assert len(names) == 1 and names[0].startswith("snap-") and names[0] != live.name


def test_damaged_snapshot_gives_one_line_error(indexed):
    _, pipeline = indexed
    snap = IndexStore.current_snapshot(pipeline.index_dir)
    os.remove(snap / "passages.jsonl")
    with pytest.raises(Exception, match="index is damaged") as info:
        IndexStore.load(pipeline.index_dir)
    assert "\n" not in str(info.value)


def test_vectors_and_bm25_stay_row_aligned_after_updates(indexed, embedder):
    tmp_path, pipeline = indexed
    for name, text in [("a.txt", "Lions live in Africa."), ("b.txt", "Penguins live in Antarctica.")]:
        (tmp_path / name).write_text(text, encoding="utf-8")
    pipeline.read([tmp_path / "a.txt", tmp_path / "b.txt"])
    pipeline.delete([tmp_path / "one.txt"])
    store = IndexStore.load(pipeline.index_dir)
    texts = [p.text for p in store.passages]
    expected = embedder.encode_passages([embedding_text(p) for p in store.passages])
    np.testing.assert_allclose(np.asarray(store.vectors.vectors()), expected, atol=1e-5)
    scores = store.bm25.scores(["penguin"])
    assert texts[int(np.argmax(scores))] == "Penguins live in Antarctica."
