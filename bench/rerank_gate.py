"""Gating the English cross-encoder (`retrieval.cross_encoder.margin`): what share of its gains a margin keeps, and
what share of questions still pay for it, on single-passage and multi-hop English sets in one run.

Usage: python -m bench.rerank_gate [squad scifact hotpotqa musique] [--limit N] [--margins 0.05,0.1,0.15,0.25]

Each question's fused top `retrieval.rerank_candidates` (the default config without a reranker) is scored once by
the cross-encoder; every margin is then applied to the same scores, as `HybridRetriever` applies it (the leader's
lead over the next document below `margin` of its score: rerank; else keep the fused order), so the rows differ
only by the gate. Indexes: bench/retrieval_quality.py's for squad and scifact, bench/multihop.py's for the
multi-hop sets (built when missing). Rows: recall@1/5, mrr@10, ndcg@10 (recall@k of a multi-hop question: all its
supporting paragraphs in the top k), `reranked` (share of questions the gate lets through) and the cross-encoder's
CPU seconds a question, measured on the always row and scaled by `reranked`.
"""

from __future__ import annotations

import argparse
import time

from ragtune.ask.rerankers import AUTO, create_reranker
from ragtune.ask.retriever import _unsure
from ragtune.config import Config
from ragtune.eval.retrieval_metrics import dedupe, score_retrieval
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

from .common import record
from .multihop import SETS as MULTIHOP_SETS
from .multihop import WORK as MULTIHOP_WORK
from .rerank_latency import spread
from .splits import RETRIEVAL_SETS, retrieval_index

METRICS = ("recall@1", "recall@5", "mrr@10", "ndcg@10")


def index_and_questions(name: str, config: Config, limit: int | None):
    if name in MULTIHOP_SETS:
        data, folder = MULTIHOP_SETS[name]
        corpus, split, index = data, None, MULTIHOP_WORK / folder
    else:
        corpus, data, split = RETRIEVAL_SETS[name]
        index = retrieval_index(name, config.embedder.name, config.index.script)
    pipeline = Pipeline(index, config, progress=False)
    pipeline.read([corpus])
    return pipeline, spread(load_questions(data, split), limit)


def scores_of(rankings, questions) -> dict:
    scores = score_retrieval(rankings, [q.qrels for q in questions], [q.all_required for q in questions])
    return {m: round(scores[m], 4) for m in METRICS}


def run_set(name: str, limit: int | None, margins: list[float], reranker) -> dict:
    config = Config.load(**{"retrieval.reranker": "none"})
    pipeline, questions = index_and_questions(name, config, limit)
    depth = config.retrieval.rerank_candidates
    fused = pipeline.retrieve_many([q.text for q in questions], depth, progress=False)
    start = time.process_time()
    scored = [reranker.scores(q.text, [r.passage.embedding_text for r in ranked])
              for q, ranked in zip(questions, fused)]
    cpu_s = (time.process_time() - start) / len(questions)

    def row(margin: float | None) -> dict:
        rankings, reranked = [], 0
        for ranked, scores in zip(fused, scored):
            if margin is None or _unsure(ranked, margin):
                reranked += 1
                ranked = [ranked[i] for i in sorted(range(len(ranked)), key=lambda i: -scores[i])]
            rankings.append(dedupe([r.id for r in ranked]))
        share = reranked / len(questions)
        return {**scores_of(rankings, questions), "reranked": round(share, 3),
                "cross_encoder_cpu_s": round(cpu_s * share, 3)}

    rows = {"fused": {**scores_of([dedupe([r.id for r in ranked]) for ranked in fused], questions),
                      "reranked": 0.0, "cross_encoder_cpu_s": 0.0},
            "always": row(None)}
    rows.update({f"margin<{margin}": row(margin) for margin in margins})
    return {"n": len(questions), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=["squad", "scifact", "hotpotqa", "musique"])
    parser.add_argument("--limit", type=int, default=400, help="questions per set, spread over the file")
    parser.add_argument("--margins", default="0.05,0.1,0.15,0.25")
    args = parser.parse_args()
    reranker = create_reranker(AUTO["en"])
    margins = [float(m) for m in args.margins.split(",")]
    result = {"bench": "rerank_gate", "reranker": reranker.name,
              "candidates": Config().retrieval.rerank_candidates,
              "sets": {name: run_set(name, args.limit, margins, reranker) for name in args.sets}}
    record("gating the English cross-encoder (retrieval.cross_encoder.margin)", result,
           notes="one cross-encoder pass over each question's fused top candidates, every gate applied to the "
           "same scores; fused = the default config without a reranker; always = the default (every English "
           "question reranked); cross_encoder_cpu_s = measured CPU seconds a question of the always row x "
           "reranked. SciFact: train qrels; multi-hop recall@k needs every supporting paragraph in the top k.")


if __name__ == "__main__":
    main()
