"""The graph's storage engine: ragtune's GraphStore (SQLite) against kuzu (an embedded graph database) on the same
synthetic graph — bulk load, an entity's 1- and 2-hop neighbourhood, replacing one passage's triples (what an
incremental update does), and the entity → passages map graph retrieval reads. No model involved.

    python -m bench.graph_store_engines [--passages 20000] [--kuzu-path DIR]

kuzu is not a ragtune dependency: install it aside (`pip install --target DIR kuzu==0.11.3`) and pass DIR.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import record
from ragtune.graph.triples import Triple
from ragtune.index.graph.store import GraphPassage, GraphStore

PREDICATES = ["born in", "capital of", "member of", "author of", "located in", "married to", "works for"]


def synthetic(passages: int, seed: int = 0) -> list[tuple[GraphPassage, list[Triple], str]]:
    """`passages` passages of 3 triples each over passages*1.5 entities, popular ones more often (Zipf-like)."""
    rng = random.Random(seed)
    entities = [f"Entity {i}" for i in range(int(passages * 1.5))]
    weights = [1 / (i + 1) ** 0.8 for i in range(len(entities))]
    rows = []
    for p in range(passages):
        names = rng.choices(entities, weights, k=6)
        text = " ".join(f"{names[i]} {PREDICATES[i % 7]} {names[i + 1]}." for i in range(0, 6, 2))
        record = GraphPassage(f'["f{p // 50}", "d{p}", 0]', f"d{p}", 0, "", f"f{p // 50}", f"h{p}", text[:160])
        rows.append((record, [Triple(names[i], PREDICATES[i % 7], names[i + 1]) for i in range(0, 6, 2)], text))
    return rows


def p50_ms(fn, keys) -> float:
    times = []
    for key in keys:
        start = time.perf_counter()
        fn(key)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def bench_sqlite(rows, probes, folder: Path) -> dict:
    start = time.perf_counter()
    GraphStore.write(folder, [], rows, {})
    load = time.perf_counter() - start
    with GraphStore.open(folder) as graph:
        one = p50_ms(lambda k: graph.neighbourhood(k, 1), probes)
        two = p50_ms(lambda k: graph.neighbourhood(k, 2), probes[:50])
        start = time.perf_counter()
        graph.entity_passages()
        passages_map = time.perf_counter() - start
    record_, triples, text = rows[0]
    start = time.perf_counter()
    for _ in range(20):
        GraphStore.write(folder, [record_.key], [(record_, triples, text)], {})
    update = (time.perf_counter() - start) / 20
    size = sum(f.stat().st_size for f in folder.iterdir() if f.name.startswith("graph.sqlite"))
    return {"load_s": round(load, 2), "hop1_p50_ms": one, "hop2_p50_ms": two,
            "entity_passages_s": round(passages_map, 3), "replace_one_passage_ms": round(update * 1000, 2),
            "disk_mb": round(size / 2**20, 1)}


def bench_kuzu(rows, probes, folder: Path, kuzu_path: str) -> dict:
    sys.path.insert(0, kuzu_path)
    import kuzu

    from ragtune.index.graph.normalize import entity_key

    db = kuzu.Database(str(folder / "kuzu"))
    conn = kuzu.Connection(db)
    conn.execute("CREATE NODE TABLE Entity(key STRING, name STRING, PRIMARY KEY(key))")
    conn.execute("CREATE REL TABLE Rel(FROM Entity TO Entity, predicate STRING, pkey STRING, passage_id STRING)")
    start = time.perf_counter()
    names, edges = {}, []
    for record_, triples, _ in rows:
        for t in triples:
            s, o = entity_key(t.subject), entity_key(t.object)
            names.setdefault(s, t.subject)
            names.setdefault(o, t.object)
            edges.append((s, o, t.predicate, record_.key, record_.passage_id))
    with open(folder / "e.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(names.items())
    with open(folder / "r.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(edges)
    conn.execute(f"COPY Entity FROM '{folder / 'e.csv'}' (header=false)")
    conn.execute(f"COPY Rel FROM '{folder / 'r.csv'}' (header=false)")
    load = time.perf_counter() - start

    def hop1(key):
        return conn.execute("MATCH (a:Entity {key: $k})-[r:Rel]-(b:Entity) RETURN a.key, r.predicate, b.key, "
                            "r.passage_id", {"k": entity_key(key)}).get_all()

    def hop2(key):
        return conn.execute("MATCH (a:Entity {key: $k})-[r:Rel*1..2]-(b:Entity) RETURN b.key",
                            {"k": entity_key(key)}).get_all()

    one, two = p50_ms(hop1, probes), p50_ms(hop2, probes[:50])
    start = time.perf_counter()
    conn.execute("MATCH (a:Entity)-[r:Rel]->(b:Entity) RETURN a.key, r.passage_id").get_all()
    passages_map = time.perf_counter() - start
    record_, triples, _ = rows[0]
    start = time.perf_counter()
    for _ in range(20):
        conn.execute("BEGIN TRANSACTION")
        conn.execute("MATCH ()-[r:Rel {pkey: $p}]->() DELETE r", {"p": record_.key})
        for t in triples:
            conn.execute("MATCH (a:Entity {key: $s}), (b:Entity {key: $o}) CREATE (a)-[:Rel {predicate: $pr, "
                         "pkey: $p, passage_id: $i}]->(b)", {"s": entity_key(t.subject), "o": entity_key(t.object),
                                                             "pr": t.predicate, "p": record_.key,
                                                             "i": record_.passage_id})
        conn.execute("COMMIT")
    update = (time.perf_counter() - start) / 20
    size = sum(f.stat().st_size for f in (folder / "kuzu").rglob("*") if f.is_file()) if (folder / "kuzu").is_dir() \
        else (folder / "kuzu").stat().st_size
    return {"load_s": round(load, 2), "hop1_p50_ms": one, "hop2_p50_ms": two,
            "entity_passages_s": round(passages_map, 3), "replace_one_passage_ms": round(update * 1000, 2),
            "disk_mb": round(size / 2**20, 1), "version": kuzu.__version__}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=20000)
    parser.add_argument("--kuzu-path", default=None)
    args = parser.parse_args()
    rows = synthetic(args.passages)
    probes = [t.subject for _, triples, _ in random.Random(1).sample(rows, 200) for t in triples[:1]]
    result = {"passages": args.passages, "triples": sum(len(t) for _, t, _ in rows)}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "s").mkdir()
        result["sqlite"] = bench_sqlite(rows, probes, Path(tmp) / "s")
        if args.kuzu_path:
            (Path(tmp) / "k").mkdir()
            result["kuzu"] = bench_kuzu(rows, probes, Path(tmp) / "k", args.kuzu_path)
    record("Knowledge graph store: SQLite (GraphStore) vs kuzu", result,
           "synthetic graph (3 triples a passage, Zipf-like entity popularity), no model; busy shared 2-core machine; "
           "SQLite load includes ragtune's per-triple span search and entity keys, kuzu's is a CSV COPY of "
           "pre-keyed rows")


if __name__ == "__main__":
    main()
