"""Multi-hop retrieval: hybrid alone vs hybrid + the graph walk (`retrieval.graph`), in one run per set.

Usage: python -m bench.multihop [hotpotqa|musique ...] [--answers] [--build-graph] [--reranker auto|none]
       [--latency-n N] [--limit N]

- hotpotqa: HotpotQA dev distractor, 98 questions, all their paragraphs pooled into one corpus (980 passages)
- musique: the MuSiQue train sample (KAG's), 100 questions over its 1,890 paragraphs

Each set is indexed with `ragtune read` (default config) under .ragtune/bench/multihop/<set>, kept between runs. The
graph is the index's own: triples when `ragtune graph build` has run on it (cached there), else the passage-title
links alone (what the rows record as `graph_source`). Rows: `eval`'s retrieval metrics (recall@k: all supporting
paragraphs in the top k), answer EM/F1 with `--answers` (the default generator, cached), and per-question
retrieval latency measured one question at a time (as `ask` retrieves), the two rows alternating question by
question so a busy machine slows both alike (then each question's hybrid ranking is computed once for both rows'
metrics: `share_hybrid_rankings`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from ragtune.config import Config
from ragtune.eval.runner import evaluate
from ragtune.index.graph.store import GraphStore
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

from .common import ROOT, SHARED, record

MULTIHOP = SHARED / "multihop"
#: set -> (its question file, which `read` also indexes; its index folder under WORK)
SETS = {
    "hotpotqa": (MULTIHOP / "hotpotqa-dev-distractor-98.jsonl", "hotpotqa-dev"),
    "musique": (MULTIHOP / "kag-train" / "musique_qa_train.json", "musique-train"),
}
WORK = ROOT / ".ragtune" / "bench" / "multihop"
ROWS = {"hybrid": {}, "graph": {"retrieval.graph": True}}


def latencies(pipelines: dict[str, Pipeline], questions: list[str]) -> dict[str, dict[str, float]]:
    """Per-question retrieval time of each pipeline (ms), alternating pipelines question by question."""
    times: dict[str, list[float]] = {name: [] for name in pipelines}
    for pipeline in pipelines.values():
        pipeline.retrieve(questions[0])  # models and the graph matrix loaded before timing
    for question in questions:
        for name, pipeline in pipelines.items():
            start = time.perf_counter()
            pipeline.retrieve(question)
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: {"p50_ms": round(statistics.median(t), 1), "mean_ms": round(statistics.fmean(t), 1)}
            for name, t in times.items()}


def walk_speed(retriever, questions: list[str]) -> dict:
    """The walk alone per question, scipy sparse power iteration (what graph retrieval runs) vs networkx's
    pagerank on the same graph and seeds, and how much of their passage rankings agree over the (up to 20)
    passages the walk reaches (networkx spreads a dead end's mass over the seeds; the power iteration drops it,
    so near-ties may order differently)."""
    import networkx as nx
    import numpy as np

    from ragtune.ask.graph_retrieval import personalized_pagerank

    graph, c = retriever.graph(), retriever.config
    ranked = retriever.hybrid.retrieve_many(questions, c.graph_candidates, rerank=False)
    seeds = [retriever.seeds(graph, q, r) for q, r in zip(questions, ranked, strict=True)]
    walk = graph.walk.tocoo()
    digraph = nx.DiGraph()
    digraph.add_nodes_from(range(walk.shape[0]))
    digraph.add_edges_from(zip(walk.col.tolist(), walk.row.tolist()))
    times, overlap = {"scipy_ms": [], "networkx_ms": []}, []
    for seed in seeds:
        start = time.perf_counter()
        ours = personalized_pagerank(graph.walk, seed[:, None], c.graph_damping, c.graph_iterations)[:, 0]
        times["scipy_ms"].append(1000 * (time.perf_counter() - start))
        personal = {int(i): float(seed[i]) for i in np.flatnonzero(seed)}
        if not personal:
            continue
        start = time.perf_counter()
        theirs = nx.pagerank(digraph, alpha=c.graph_damping, personalization=personal, tol=1e-8)
        times["networkx_ms"].append(1000 * (time.perf_counter() - start))
        passages = ours[graph.n_entities:]
        depth = min(20, int((passages > 1e-9).sum()))  # passages the walk reaches (the rest tie at 0)
        if depth:
            top = [int(i) for i in np.argsort(-passages)[:depth] + graph.n_entities]
            other = sorted((n for n in theirs if n >= graph.n_entities), key=lambda n: -theirs[n])[:depth]
            overlap.append(len(set(top) & set(other)) / depth)
    return {**{name: round(statistics.median(t), 2) for name, t in times.items() if t},
            "top_reached_overlap": round(statistics.fmean(overlap), 3) if overlap else None, "nodes": walk.shape[0],
            "edges": int(walk.nnz)}


def share_hybrid_rankings(hybrid, graph) -> None:
    """After the latency pass: the graph row's hybrid half is the hybrid row's ranking of the same questions, so
    each question is retrieved (and cross-encoder reranked) once for both rows' metrics; the figures are those of
    separate runs, in half the time of a machine shared with other jobs."""
    original, seen = hybrid.retrieve_many, {}

    def retrieve_many(queries, k=None, rerank=True):
        key = (tuple(queries), k, rerank)
        if key not in seen:
            seen[key] = original(queries, k, rerank)
        return seen[key]

    hybrid.retrieve_many = retrieve_many
    graph.hybrid = hybrid


def run_set(name: str, answers: bool, latency_n: int, limit: int | None, build_graph: bool = False,
            reranker: str | None = None) -> None:
    data, folder = SETS[name]
    index = WORK / folder
    start = time.perf_counter()
    report = Pipeline(index, Config(), progress=False).read([data])
    read_s = round(time.perf_counter() - start, 1)
    questions = load_questions(data)[:limit]
    if build_graph:  # what `ragtune graph build --index DIR` runs: the generator over every passage (cached)
        from ragtune.graph.build import build_graph as build

        print(build(index, Config(), progress=True).line(), file=sys.stderr)
    with GraphStore.open(index) or _NoGraph() as graph:
        counts = graph.counts()
    pipelines = {row: Pipeline(index, Config.load(**{"retrieval.reranker": reranker, **overrides}), progress=False)
                 for row, overrides in ROWS.items()}
    start = time.perf_counter()
    pipelines["graph"].retriever.graph()
    graph_build_s = round(time.perf_counter() - start, 2)
    timed = latencies(pipelines, [q.text for q in questions[:latency_n]])
    walk = walk_speed(pipelines["graph"].retriever, [q.text for q in questions[:latency_n]])
    share_hybrid_rankings(pipelines["hybrid"].retriever, pipelines["graph"].retriever)
    rows = {}
    for row, pipeline in pipelines.items():
        t0 = time.perf_counter()
        result = evaluate(pipeline, questions, retrieval_only=not answers, progress=False, data=data)
        rows[row] = {"retrieval": result.metrics["retrieval"], "eval_s": round(time.perf_counter() - t0, 1)}
        if answers:
            rows[row]["answer"] = {k: result.metrics["answer"][k] for k in ("em", "f1")}
    for row in rows:
        rows[row]["latency"] = timed[row]
    hybrid, graph = rows["hybrid"], rows["graph"]
    gains = {f"recall@{k}_points": round(100 * (graph["retrieval"][at] - hybrid["retrieval"][at]), 1)
             for k in (2, 5) for at in [f"recall@{k}"]}
    gains["latency_p50_ratio"] = round(graph["latency"]["p50_ms"] / hybrid["latency"]["p50_ms"], 2)
    if answers:
        gains["f1_points"] = round(graph["answer"]["f1"] - hybrid["answer"]["f1"], 2)
    source = "triples + titles" if counts["triples"] else "titles alone (no `ragtune graph build` on this index)"
    reranked = pipelines["hybrid"].config.retrieval.reranker
    record(
        f"multi-hop retrieval: {name} ({len(questions)} questions, {report.passages_total} passages, reranker "
        f"{reranked})",
        {"bench": "multihop", "set": name, "data": str(data.relative_to(SHARED)), "n": len(questions),
         "passages": report.passages_total, "reranker": reranked, "read_s": read_s, "graph_source": source,
         "graph": counts,
         "graph_matrix_build_s": graph_build_s, "walk_per_question": walk,
         "latency_questions": min(latency_n, len(questions)),
         "rows": rows, "graph_vs_hybrid": gains},
        notes="recall@k counts a question only when all its supporting paragraphs are in the top k. Both rows use "
        "the default config but for `reranker` (auto: hybrid + the English cross-encoder; none: the fused dense + "
        "BM25 order); `graph` adds retrieval.graph with its "
        "defaults (tuned on the HotpotQA train sample, not on these questions). Latency: one question at a time, "
        "rows alternating, on a busy shared 2-core machine (other sessions' jobs ran throughout).",
    )


class _NoGraph:
    """Counts of an index without a graph store."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def counts(self) -> dict[str, int]:
        return {"passages": 0, "triples": 0, "entities": 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=list(SETS), help=f"any of {', '.join(SETS)} (default: all)")
    parser.add_argument("--answers", action="store_true", help="also generate answers (EM/F1; minutes per set)")
    parser.add_argument("--latency-n", type=int, default=20, help="questions timed one at a time per row")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--reranker", default=None, help="retrieval.reranker of both rows (default: the config's, "
                        "auto: the English cross-encoder; none: the fused order, no model after the embedder)")
    parser.add_argument("--build-graph", action="store_true", help="extract triples first (`ragtune graph build`: "
                        "about an hour per set on 2 busy cores; cached in the index)")
    args = parser.parse_args()
    unknown = [name for name in args.sets if name not in SETS]
    if unknown:
        parser.error(f"unknown set {unknown[0]!r}; known: {', '.join(SETS)}")
    WORK.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        run_set(name, args.answers, args.latency_n, args.limit, args.build_graph, args.reranker)


if __name__ == "__main__":
    main()

