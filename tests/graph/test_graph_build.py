"""Graph builds over a real index with the packaged generator: every passage extracted once, answers reused from
the generation cache, and `read` / `read --delete` keeping the graph in step with the index."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from ragtune.graph.build import ExtractionSettings, build_graph, extract_triples, extraction_for
from ragtune.index.backends import open_index
from ragtune.index.graph.store import GRAPH_FILE, GraphStore, passage_key
from ragtune.pipeline import Pipeline

FILES = {
    "curie.txt": "Marie Curie was born in Warsaw. Pierre Curie was married to Marie Curie.",
    "eiffel.txt": "The Eiffel Tower is located in Paris.",
    "beijing.txt": "周杰伦出生于台湾。",
}


def ragtune(*args):
    return subprocess.run([sys.executable, "-m", "ragtune.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def graph_state(index) -> tuple[dict, dict]:
    """(passage key -> content hash, passage id -> its triples as tuples) of the index's graph."""
    with GraphStore.open(index) as graph:
        triples: dict[str, list] = {}
        for t in graph.triples():
            triples.setdefault(t.passage_id, []).append((t.subject, t.predicate, t.object))
        return {k: p.sha256 for k, p in graph.passages().items()}, triples


def expected_triples(index, config) -> dict:
    """What extraction gives each of the index's passages now (cached answers: no generation)."""
    pipeline = Pipeline(index, extraction_for(config, None, None, None).config(config), progress=False)
    passages = list(open_index(index, config).passages)
    found = extract_triples(pipeline, [p.text for p in passages], None, progress=False)
    return {p.id: [(t.subject, t.predicate, t.object) for t in dict.fromkeys(f)] for p, f in zip(passages, found)
            if f}


@pytest.fixture(scope="module")
def built(tmp_path_factory, config, embedder):
    root = tmp_path_factory.mktemp("graph")
    docs = root / "docs"
    docs.mkdir()
    for name, text in FILES.items():
        (docs / name).write_text(text + "\n", encoding="utf-8")
    Pipeline(root / "index", config, embedder=embedder, progress=False).read([docs])
    report = build_graph(root / "index", config, progress=False)
    return root, docs, root / "index", report


def test_build_extracts_every_passage_with_provenance(built, config):
    _, _, index, report = built
    passages = list(open_index(index, config).passages)
    hashes, triples = graph_state(index)
    assert set(hashes) == {passage_key(p) for p in passages} and report.passages == len(FILES)
    assert report.extracted == len(FILES) and report.removed == 0
    assert triples == expected_triples(index, config)
    assert report.triples == sum(map(len, triples.values())) > 0
    with GraphStore.open(index) as graph:
        texts = {p.id: p.text for p in passages}
        for t in graph.triples():
            if t.subject_span is not None:  # provenance: the span is the subject's text in its passage
                assert texts[t.passage_id][slice(*t.subject_span)].lower() == t.subject.lower()


def test_rebuild_is_free_and_a_lost_graph_comes_back_from_the_cache(built, config):
    _, _, index, _ = built
    with GraphStore.open(index) as graph:
        version = graph.version()
    again = build_graph(index, config, progress=False)
    assert (again.extracted, again.generated, again.unchanged, again.version) == (0, 0, len(FILES), version)
    before = graph_state(index)
    (index / GRAPH_FILE).unlink()
    rebuilt = build_graph(index, config, progress=False)
    assert rebuilt.extracted == len(FILES) and rebuilt.generated == 0  # every answer came from the cache
    assert graph_state(index) == before


def test_show_and_errors_are_one_line(built):
    _, _, index, _ = built
    with GraphStore.open(index) as graph:
        name = graph.entity_names()[graph.triples()[0].subject_key][0]
    result = ragtune("graph", "show", name, "--index", index, "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["edges"] and all(e["passage_id"].startswith("docs/") for e in view["edges"])
    assert any(name in e["snippet"] for e in view["edges"])
    result = ragtune("graph", "show", name + "x", "--index", index)
    assert result.returncode == 1 and f"close matches: {name}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = ragtune("graph", "export", "--index", index, "--format", "jsonl")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    with GraphStore.open(index) as graph:
        assert result.returncode == 0 and len(rows) == graph.counts()["triples"]
    assert {"subject", "predicate", "object", "passage_id", "span"} <= set(rows[0])
    result = ragtune("graph", "export", "--index", index, "--format", "csv")
    assert result.returncode == 1 and "use one of jsonl, graphml" in result.stderr


def test_read_adds_replaces_and_deletes_in_the_graph(built, config):
    root, docs, index, _ = built
    # replace one file, add another: only those two passages are extracted, the rest is kept as it was
    (docs / "eiffel.txt").write_text("The Louvre is located in Paris.\n", encoding="utf-8")
    (docs / "turing.txt").write_text("Alan Turing was born in London.\n", encoding="utf-8")
    hashes_before, triples_before = graph_state(index)
    result = ragtune("read", docs, "--index", index)
    assert result.returncode == 0, result.stderr
    assert "graph: 4 passages" in result.stdout and "extracted 2," in result.stdout and "removed 0;" in result.stdout
    hashes, triples = graph_state(index)
    assert triples == expected_triples(index, config)
    assert "Eiffel Tower" not in json.dumps(triples) and "docs/turing.txt" in {json.loads(k)[1] for k in hashes}
    unchanged = {k: v for k, v in hashes_before.items() if "eiffel" not in k}
    assert unchanged.items() <= hashes.items()
    assert {k: v for k, v in triples.items() if "curie" in k} == {k: v for k, v in triples_before.items()
                                                                   if "curie" in k}

    # read --delete: the file's passages and triples leave the graph, nothing is generated
    result = ragtune("read", "--delete", docs / "curie.txt", "--index", index)
    assert result.returncode == 0, result.stderr
    assert "graph: 3 passages" in result.stdout and "extracted 0, 0 generated; removed 1;" in result.stdout
    hashes, triples = graph_state(index)
    assert not any("curie" in k for k in hashes) and not any("curie" in k for k in triples)
    with GraphStore.open(index) as graph:
        assert not any("curie" in key for key in graph.entity_names())

    # with graph.update_on_read off, read leaves the graph alone and `graph build` catches up
    (root / "off.yaml").write_text("graph:\n  update_on_read: false\n")
    (docs / "turing.txt").unlink()
    result = ragtune("read", "--delete", docs / "turing.txt", "--index", index, "--config", root / "off.yaml")
    assert result.returncode == 0 and "graph:" not in result.stdout
    assert any("turing" in k for k in graph_state(index)[0])
    result = ragtune("graph", "build", "--index", index)
    assert result.returncode == 0 and "graph: 2 passages" in result.stdout and "removed 1;" in result.stdout


def test_no_graph_yet_says_how_to_build_one(tmp_path):
    result = ragtune("graph", "show", "x", "--index", tmp_path)
    assert result.returncode == 1 and "ragtune graph build --index" in result.stderr
    assert "Traceback" not in result.stderr
    result = ragtune("graph", "build", "--index", tmp_path / "none")
    assert result.returncode == 1 and "no index here; run `ragtune read" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "none").exists()


def test_limit_covers_the_first_passages_and_is_kept(built, config, tmp_path, embedder):
    _, docs, _, _ = built
    pipeline = Pipeline(tmp_path / "index", config, embedder=embedder, progress=False)
    pipeline.read([docs])
    first = build_graph(tmp_path / "index", config, limit=1, progress=False)
    assert (first.passages, first.extracted) == (1, 1)
    again = build_graph(tmp_path / "index", config, progress=False)  # the recorded limit holds
    assert (again.passages, again.extracted) == (1, 0)
    wider = build_graph(tmp_path / "index", config, limit=2, progress=False)
    assert (wider.passages, wider.extracted, wider.unchanged) == (2, 1, 1)


def test_voted_extraction_is_recorded_and_updates_keep_it(built, config, tmp_path, embedder):
    _, docs, _, _ = built
    index = tmp_path / "index"
    Pipeline(index, config, embedder=embedder, progress=False).read([docs])
    greedy = config.model_copy(update={"extract": config.extract.model_copy(update={"decoding": "greedy"})})
    first = build_graph(index, greedy, limit=2, progress=False)
    beams = config.model_copy(update={"extract": config.extract.model_copy(update={"decoding": "beam"})})
    voted = build_graph(index, beams, progress=False)  # 4 beams voted on
    assert voted.extracted == 2  # other settings: every passage extracted again
    with GraphStore.open(index) as graph:
        recorded = ExtractionSettings.recorded(graph.settings)
    assert recorded.voting == {"decoding": "beam", "candidates": 4, "min_votes": None}  # resolved: 4 beams
    kept = build_graph(index, config, progress=False, as_recorded=True)  # what `read` runs
    assert (kept.extracted, kept.generated) == (0, 0)
    again = build_graph(index, config, progress=False)  # auto, no adapter: greedy again, from the cache
    assert (again.extracted, again.generated, again.triples) == (2, 0, first.triples)
    old = {k: v for k, v in recorded.settings().items() if k != "voting"}
    assert ExtractionSettings.recorded(old).voting is None  # a graph from before voting reads as greedy
    assert ExtractionSettings.recorded(old).fingerprint == extraction_for(greedy, None, None, 2).fingerprint
    assert extraction_for(config, tmp_path, None, None).voting == {  # auto, with an adapter: 5 samples
        "decoding": "sample", "candidates": 5, "min_votes": None, "temperature": 0.7, "top_p": 0.95, "seed": 0}


@pytest.mark.slow
def test_a_killed_build_leaves_the_last_good_graph(built, config, tmp_path):
    """SIGKILL a `graph build` that has new passages to extract, at several moments: the graph is always the
    one before or the one after (never a part), and a rerun finishes from the cached answers."""
    import signal
    import time
    import uuid

    _, docs, index, _ = built
    for n in range(6):  # text never seen before: the build must generate
        (docs / f"kill{n}.txt").write_text(f"Station {uuid.uuid4().hex[:6]} {n} is located in Oslo.\n")
    result = ragtune("read", docs, "--index", index, "--config", _off(tmp_path))
    assert result.returncode == 0, result.stderr
    before = graph_state(index)
    for delay in (2.0, 6.0, 12.0):
        process = subprocess.Popen([sys.executable, "-m", "ragtune.cli", "graph", "build", "--index", str(index)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        state = graph_state(index)
        assert state == before or set(state[0]) == {passage_key(p) for p in open_index(index, config).passages}
        assert sqlite3.connect(index / GRAPH_FILE).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    result = ragtune("graph", "build", "--index", index)
    assert result.returncode == 0 and graph_state(index)[1] == expected_triples(index, config)


def _off(folder):
    (folder / "off.yaml").write_text("graph:\n  update_on_read: false\n")
    return folder / "off.yaml"
