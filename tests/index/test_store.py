"""The snapshot backend (format 1, `index.backend: snapshot`): writes are atomic, a crash at any point leaves the
previous snapshot live. The embedded backend's own guarantees are in test_embedded.py."""

import errno
import os
import shutil

import numpy as np
import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.index.bm25 import BM25Index
from ragtune.index.store import IndexStore
from ragtune.index.vectors.flat import FlatIndex
from ragtune.pipeline import Pipeline


@pytest.fixture
def pipeline_factory(tmp_path, embedder):
    """Pipelines over one folder in the snapshot format."""
    config = Config.load(**{"index.backend": "snapshot"})
    return lambda name="index": Pipeline(tmp_path / name, config, embedder=embedder, progress=False)


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


def test_hard_kill_leftovers_are_cleaned_and_nothing_else(indexed):
    tmp_path, pipeline = indexed
    index = pipeline.index_dir
    live = IndexStore.current_snapshot(index)
    # a kill -9 can leave a half-written temp folder, a renamed snapshot CURRENT never pointed at and a pointer
    # temporary, all named as ragtune names them
    (index / ".tmp-snap-20200101000000-deadbeef").mkdir()
    (index / ".tmp-snap-20200101000000-deadbeef" / "passages.jsonl").write_text("garbage")
    shutil.copytree(live, index / "snap-20200101000000-0badf00d")
    (index / ".CURRENT-snap-20200101000000-0badf00d").write_text("snap-20200101000000-0badf00d")
    # things a user put there are not ragtune's to remove, whatever they are called
    for mine in ("snap-photos", ".tmp-notes", "snap-20200101000000-feedface"):
        (index / mine).mkdir()
        (index / mine / "keep.txt").write_text("mine")
    assert IndexStore.current_snapshot(index) == live
    assert len(IndexStore.load(index)) == 1

    (tmp_path / "two.txt").write_text("Another document.", encoding="utf-8")
    pipeline.read([tmp_path / "two.txt"])
    new = IndexStore.current_snapshot(index)
    names = sorted(p.name for p in index.iterdir())
    # the snapshot just replaced stays for readers that were opening it; the user's folders stay untouched
    assert names == sorted([".lock", "CURRENT", live.name, new.name, "snap-photos", ".tmp-notes",
                            "snap-20200101000000-feedface"])
    assert all((index / mine / "keep.txt").read_text() == "mine"
               for mine in ("snap-photos", ".tmp-notes", "snap-20200101000000-feedface"))
    # one save later only the live snapshot and the one before it are left
    (tmp_path / "three.txt").write_text("A third document.", encoding="utf-8")
    pipeline.read([tmp_path / "three.txt"])
    assert not live.exists() and new.exists() and len(IndexStore.load(index)) == 3


def test_read_refuses_a_folder_that_is_not_an_index(tmp_path, pipeline_factory):
    (tmp_path / "one.txt").write_text("Some text.", encoding="utf-8")
    pipeline = pipeline_factory("mine")
    (pipeline.index_dir / "snap-holiday").mkdir(parents=True)
    (pipeline.index_dir / "snap-holiday" / "beach.jpg").write_bytes(b"jpeg")
    (pipeline.index_dir / "notes.txt").write_text("my notes")
    with pytest.raises(RagtuneError, match="not a ragtune index and not empty"):
        pipeline.read([tmp_path / "one.txt"])
    assert sorted(p.name for p in pipeline.index_dir.iterdir()) == ["notes.txt", "snap-holiday"]
    assert (pipeline.index_dir / "snap-holiday" / "beach.jpg").read_bytes() == b"jpeg"


def test_missing_current_recovers_the_newest_complete_snapshot(indexed):
    tmp_path, pipeline = indexed
    (tmp_path / "two.txt").write_text("The second document talks about coffee.", encoding="utf-8")
    pipeline.read([tmp_path / "two.txt"])
    (pipeline.index_dir / "CURRENT").unlink()  # a copy that missed it, a hand-edit

    assert {p.id for p in IndexStore.load(pipeline.index_dir).passages} == {"one.txt", "two.txt"}
    (tmp_path / "three.txt").write_text("The third document talks about juice.", encoding="utf-8")
    report = pipeline.read([tmp_path / "three.txt"])
    assert (report.files_new, report.passages_total) == (1, 3)
    assert {p.id for p in IndexStore.load(pipeline.index_dir).passages} == {"one.txt", "two.txt", "three.txt"}


def test_current_naming_a_snapshot_without_manifest_is_never_taken_for_empty(indexed):
    tmp_path, pipeline = indexed
    (tmp_path / "two.txt").write_text("The second document talks about coffee.", encoding="utf-8")
    pipeline.read([tmp_path / "two.txt"])
    half = IndexStore.current_snapshot(pipeline.index_dir)
    (half / "manifest.json").unlink()
    # the snapshot before it is complete: it is what a load and the next read build on
    assert [p.id for p in IndexStore.load(pipeline.index_dir).passages] == ["one.txt"]
    (tmp_path / "three.txt").write_text("The third document talks about juice.", encoding="utf-8")
    assert pipeline.read([tmp_path / "three.txt"]).passages_total == 2
    assert half.is_dir() and (half / "passages.jsonl").is_file()  # not ragtune's to delete any more

    # with no complete snapshot left the index is refused, and nothing in it is deleted
    for snap in pipeline.index_dir.glob("snap-*"):
        (snap / "manifest.json").unlink(missing_ok=True)
    before = sorted(str(p) for p in pipeline.index_dir.rglob("*"))
    for attempt in (lambda: IndexStore.load(pipeline.index_dir), lambda: pipeline.read([tmp_path / "two.txt"])):
        with pytest.raises(RagtuneError, match="index is damaged") as info:
            attempt()
        assert "\n" not in str(info.value) and "re-create" not in str(info.value)
    assert sorted(str(p) for p in pipeline.index_dir.rglob("*")) == before


def test_damaged_snapshot_gives_one_line_error(indexed):
    _, pipeline = indexed
    snap = IndexStore.current_snapshot(pipeline.index_dir)
    os.remove(snap / "passages.jsonl")
    with pytest.raises(RagtuneError, match="index is damaged") as info:
        IndexStore.load(pipeline.index_dir)
    assert "\n" not in str(info.value) and "passages.jsonl is missing" in str(info.value)


@pytest.mark.parametrize("damage, problem", [
    ("bm25", "bm25/ is missing"),
    ("tokens", "disagree on the passage count"),
    ("vectors", "disagree on the passage count"),
])
def test_load_cross_checks_every_part_of_a_snapshot(indexed, damage, problem):
    tmp_path, pipeline = indexed
    (tmp_path / "two.txt").write_text("The second document talks about coffee.", encoding="utf-8")
    pipeline.read([tmp_path / "two.txt"])
    snap = IndexStore.current_snapshot(pipeline.index_dir)
    if damage == "bm25":
        shutil.rmtree(snap / "bm25")  # must not quietly become dense-only search
    elif damage == "tokens":
        lines = (snap / "tokens.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        (snap / "tokens.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    else:
        np.save(snap / "vectors.npy", np.load(snap / "vectors.npy")[:1])
    with pytest.raises(RagtuneError, match="index is damaged") as info:
        IndexStore.load(pipeline.index_dir)
    message = str(info.value)
    assert problem in message and "\n" not in message
    # it points at the complete snapshot before it rather than at deleting anything
    assert "re-create" not in message and "earlier snapshot snap-" in message


def test_full_disk_during_save_is_one_line_and_keeps_the_previous_index(indexed, monkeypatch):
    tmp_path, pipeline = indexed
    before = IndexStore.current_snapshot(pipeline.index_dir)
    (tmp_path / "two.txt").write_text("The second document talks about coffee.", encoding="utf-8")

    def disk_full(self, folder):
        (folder / "vectors.npy").write_bytes(b"\x93NUMPY partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(FlatIndex, "save", disk_full)
    with pytest.raises(RagtuneError) as info:
        pipeline.read([tmp_path / "two.txt"])
    monkeypatch.undo()
    message = str(info.value)
    assert "\n" not in message and "No space left on device" in message
    assert "previous index is still live" in message
    assert IndexStore.current_snapshot(pipeline.index_dir) == before
    assert sorted(p.name for p in pipeline.index_dir.iterdir()) == [".lock", "CURRENT", before.name]
    assert pipeline.read([tmp_path / "two.txt"]).passages_total == 2


def test_reader_whose_snapshot_is_removed_under_it_loads_the_new_one(indexed, monkeypatch):
    """A reader that read CURRENT, then lost the race with two saves, retries instead of calling it damaged."""
    tmp_path, pipeline = indexed
    writer = Pipeline(pipeline.index_dir, pipeline.config, embedder=pipeline.embedder, progress=False)
    original = FlatIndex.load
    raced = []

    def load_after_two_saves(self, folder):
        if not raced:
            raced.append(folder)
            for name in ("two.txt", "three.txt"):
                (tmp_path / name).write_text(f"The document {name} is about something new.", encoding="utf-8")
                writer.read([tmp_path / name])
            assert not folder.exists()  # the snapshot this reader was opening is gone now
        return original(self, folder)

    monkeypatch.setattr(FlatIndex, "load", load_after_two_saves)
    store = IndexStore.load(pipeline.index_dir)
    assert raced and len(store) == 3


def test_vectors_and_bm25_stay_row_aligned_after_updates(indexed, embedder):
    tmp_path, pipeline = indexed
    for name, text in [("a.txt", "Lions live in Africa."), ("b.txt", "Penguins live in Antarctica.")]:
        (tmp_path / name).write_text(text, encoding="utf-8")
    pipeline.read([tmp_path / "a.txt", tmp_path / "b.txt"])
    pipeline.delete([tmp_path / "one.txt"])
    store = IndexStore.load(pipeline.index_dir)
    texts = [p.text for p in store.passages]
    expected = embedder.encode_passages([p.embedding_text for p in store.passages])
    np.testing.assert_allclose(np.asarray(store.vectors()), expected, atol=1e-5)
    scores = store.bm25.scores(["penguin"])
    assert texts[int(np.argmax(scores))] == "Penguins live in Antarctica."
