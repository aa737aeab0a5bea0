"""GET /v1/graph over a copy of the demo index: 404 until a graph exists, then an entity's neighbourhood with the
index's text around each triple, close matches for an unknown name, the most connected entities without one."""

from __future__ import annotations

from ragtune.graph.store import GraphPassage, GraphStore
from ragtune.graph.triples import Triple


def write_graph(index) -> None:
    """Triples of the demo's Trevithick paragraph, as an extraction would give them (the route only shows them)."""
    from ragtune.index.backends import open_index

    passage = next(p for p in open_index(index).passages if "Richard Trevithick" in p.text)
    GraphStore.write(index, [], [(GraphPassage.of(passage), [
        Triple("Richard Trevithick", "built", "railway steam locomotive"),
        Triple("railway steam locomotive", "hauled", "a train")], passage.text)], {})


def test_graph_route(client, service):
    missing = client.get("/v1/graph", params={"entity": "Richard Trevithick"})
    assert missing.status_code == 404 and "ragtune graph build" in missing.json()["error"]["message"]
    write_graph(service.index_dir)

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
