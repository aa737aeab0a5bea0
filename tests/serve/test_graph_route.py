"""GET /v1/graph over a copy of the demo index: 404 until a graph exists, then an entity's neighbourhood with the
index's text around each triple, close matches for an unknown name, the most connected entities without one."""

from __future__ import annotations

from ragtune.graph.triples import Triple
from ragtune.index.graph.store import GraphPassage, GraphStore


def write_graph(index, config) -> None:
    """Every demo passage recorded as extracted with the config's settings, the Trevithick paragraph with triples
    as an extraction would give them (the route only shows them; an upload then extracts only what is new)."""
    from ragtune.graph.build import extraction_for
    from ragtune.index.backends import open_index

    triples = [Triple("Richard Trevithick", "built", "railway steam locomotive"),
               Triple("railway steam locomotive", "hauled", "a train")]
    GraphStore.write(index, [], [(GraphPassage.of(p), triples if "Richard Trevithick" in p.text else [], p.text)
                                 for p in open_index(index).passages],
                     extraction_for(config, None, None, None).settings())


def test_graph_route(client, service):
    missing = client.get("/v1/graph", params={"entity": "Richard Trevithick"})
    assert missing.status_code == 404 and "ragtune graph build" in missing.json()["error"]["message"]
    write_graph(service.index_dir, service.config)

    view = client.get("/v1/graph", params={"entity": "richard trevithick", "hops": 2}).json()
    assert view["entity"] == "richard trevithick" and view["label"] == "Richard Trevithick"
    assert {n["id"]: n["hops"] for n in view["nodes"]} == {"richard trevithick": 0, "railway steam locomotive": 1,
                                                           "a train": 2}
    built = view["edges"][0]
    assert (built["source"], built["predicate"], built["target"]) == ("richard trevithick", "built",
                                                                      "railway steam locomotive")
    assert built["title"] and "Richard Trevithick" in built["snippet"] and built["span"][1] > built["span"][0]
    one = client.get("/v1/graph", params={"entity": "Richard Trevithick", "hops": 1}).json()
    assert len(one["edges"]) == 1

    unknown = client.get("/v1/graph", params={"entity": "Richard Trevethick"})
    assert unknown.status_code == 404 and "close matches: Richard Trevithick" in unknown.json()["error"]["message"]
    assert str(service.index_dir) not in unknown.json()["error"]["message"]  # no server path in an answer

    top = client.get("/v1/graph").json()
    assert top["entity"] is None and top["edges"] == [] and top["counts"]["triples"] == 2
    assert top["nodes"][0]["id"] == "railway steam locomotive" and top["nodes"][0]["triples"] == 2
    assert client.get("/v1/graph", params={"entity": "x", "hops": 9}).status_code == 422


def test_an_upload_and_a_delete_update_the_graph(client, service):
    import time

    if GraphStore.open(service.index_dir) is None:
        write_graph(service.index_dir, service.config)
    with GraphStore.open(service.index_dir) as graph:
        before = graph.counts()["passages"]
    job = client.post("/v1/documents", files=[("files", ("turing.txt", b"Alan Turing was born in London.\n"))]).json()
    deadline = time.monotonic() + 300
    while (status := client.get(f"/v1/jobs/{job['id']}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert status["status"] == "done" and status["message"].startswith(f"graph: {before + 1} passages")
    assert "extracted 1," in status["message"]  # only the new passage
    with GraphStore.open(service.index_dir) as graph:
        uploaded = [p for p in graph.passages().values() if p.passage_id.endswith("turing.txt")]
    assert len(uploaded) == 1
    doc = next(d for d in client.get("/v1/documents").json()["documents"] if d["name"] == "turing.txt")
    assert client.delete(f"/v1/documents/{doc['id']}").status_code == 200
    with GraphStore.open(service.index_dir) as graph:
        assert graph.counts()["passages"] == before
        assert not any(p.passage_id.endswith("turing.txt") for p in graph.passages().values())
