"""`read` commits every `index.save_every_passages` new passages and resumes a read cut short."""

import json

import pytest

from ragtune.config import Config
from ragtune.index.backends import open_index
from ragtune.index.backends.embedded import EmbeddedIndex
from ragtune.pipeline import Pipeline

SENTENCES = [f"Sentence number {i} describes the colour of river stone {i} in some detail." for i in range(40)]


def _corpus(folder):
    """Three plain files and one JSON-lines file of 12 documents (one file, several batches)."""
    folder.mkdir()
    for n in range(3):
        (folder / f"a{n}.txt").write_text(SENTENCES[n], encoding="utf-8")
    rows = [{"id": f"doc{i}", "text": SENTENCES[10 + i]} for i in range(12)]
    (folder / "many.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def _pipeline(folder, embedder, every):
    pipeline = Pipeline(folder, Config.load(**{"index.save_every_passages": every}), embedder=embedder, progress=False)
    return pipeline


def _contents(folder):
    store = open_index(folder)
    return sorted((p.id, p.chunk, p.text) for p in store.passages), store


def test_read_saves_every_batch_and_counts_stay_right(tmp_path, embedder, monkeypatch):
    corpus = _corpus(tmp_path / "docs")
    saves = []
    original = EmbeddedIndex.commit
    monkeypatch.setattr(EmbeddedIndex, "commit", lambda self: (original(self), saves.append(len(self)))[0])

    report = _pipeline(tmp_path / "batched", embedder, 4).read([corpus])
    assert (report.files_new, report.documents, report.passages_added, report.passages_total) == (4, 15, 15, 15)
    assert saves == [4, 8, 12, 15]  # every 4 new passages, the rest at the end

    whole = _pipeline(tmp_path / "whole", embedder, 10_000).read([corpus])
    assert whole.passages_total == 15 and saves[-1] == 15 and len(saves) == 5
    batched, store = _contents(tmp_path / "batched")
    assert batched == _contents(tmp_path / "whole")[0]
    assert not any(meta.get("partial") for meta in store.sources.values())

    again = _pipeline(tmp_path / "batched", embedder, 4).read([corpus])
    assert (again.files_unchanged, again.passages_added, again.passages_total) == (4, 0, 15)
    (corpus / "a1.txt").write_text("A changed file about lakes.", encoding="utf-8")
    changed = _pipeline(tmp_path / "batched", embedder, 4).read([corpus])
    assert (changed.files_changed, changed.files_unchanged, changed.passages_removed, changed.passages_added,
            changed.passages_total) == (1, 3, 1, 1, 15)


def test_a_read_cut_short_keeps_its_batches_and_a_rerun_resumes(tmp_path, embedder, monkeypatch):
    corpus = _corpus(tmp_path / "docs")
    original = EmbeddedIndex.commit
    saves = []

    def killed_at_third_save(self):
        saves.append(len(self))
        if len(saves) == 3:
            raise KeyboardInterrupt  # as if killed while embedding the third batch
        return original(self)

    monkeypatch.setattr(EmbeddedIndex, "commit", killed_at_third_save)
    with pytest.raises(KeyboardInterrupt):
        _pipeline(tmp_path / "index", embedder, 4).read([corpus])
    monkeypatch.undo()

    # two batches are saved: the three plain files and the start of many.jsonl, marked partial
    kept, store = _contents(tmp_path / "index")
    assert len(kept) == 8
    partial = {key.rsplit("/", 1)[-1] for key, meta in store.sources.items() if meta.get("partial")}
    assert partial == {"many.jsonl"} and len(store.sources) == 4

    encoded = []
    encode = embedder.encode_passages
    monkeypatch.setattr(embedder, "encode_passages", lambda texts, progress=False: encoded.extend(texts) or
                        encode(texts, progress))
    rerun = _pipeline(tmp_path / "index", embedder, 4).read([corpus])
    monkeypatch.undo()
    assert (rerun.files_unchanged, rerun.files_new, rerun.passages_added, rerun.passages_removed,
            rerun.passages_total) == (3, 1, 7, 0, 15)
    assert len(encoded) == 7  # only what the cut-short read had not saved is embedded again

    _pipeline(tmp_path / "whole", embedder, 10_000).read([corpus])
    resumed, store = _contents(tmp_path / "index")
    assert resumed == _contents(tmp_path / "whole")[0]
    assert not any(meta.get("partial") for meta in store.sources.values())


def test_a_partial_file_that_changed_is_read_again_whole(tmp_path, embedder, monkeypatch):
    corpus = _corpus(tmp_path / "docs")
    original = EmbeddedIndex.commit
    calls = []

    def killed_at_third_save(self):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(EmbeddedIndex, "commit", killed_at_third_save)
    with pytest.raises(KeyboardInterrupt):
        _pipeline(tmp_path / "index", embedder, 4).read([corpus])
    monkeypatch.undo()

    rows = [{"id": f"new{i}", "text": SENTENCES[30 + i]} for i in range(3)]
    (corpus / "many.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rerun = _pipeline(tmp_path / "index", embedder, 4).read([corpus])
    assert (rerun.files_changed, rerun.passages_removed, rerun.passages_added, rerun.passages_total) == (1, 5, 3, 6)
    ids = {p[0] for p in _contents(tmp_path / "index")[0]}
    assert ids == {"docs/a0.txt", "docs/a1.txt", "docs/a2.txt", "new0", "new1", "new2"}
