"""The PostgreSQL + pgvector backend against the embedded one: `eval --retrieval-only` metrics and query latency.

Usage: python -m bench.pg_backend [cmrc|scifact ...] [--limit N] [--latency-queries N]

For each set, in one run:
1. the embedded index is read with `ragtune read` (cached under .ragtune/bench/pg-<set>-<embedder>);
2. a throwaway PostgreSQL 18 + pgvector starts on 127.0.0.1 (ragtune.index.local_postgres) and gets the same
   passages, vectors and tokens copied through the backend interface (so only the backend differs); for `cmrc`
   `ragtune read --index postgresql://...` also reads the corpus itself, and its content is compared;
3. `ragtune eval DATA --index X --retrieval-only --json` runs on every index: embedded, PostgreSQL (exact below
   index.exact_below, as configured) and PostgreSQL forced onto its HNSW graph (`index.exact_below: 1`);
4. query latency in this process: the backend's part of a query (dense and lexical candidates and their exact
   scores, `HybridRetriever.candidate_scores`, from precomputed query vectors) and a whole `retrieve` without
   rerank (embedding included), p50/p95 over the first N questions.
Reranking is off everywhere (`retrieval.reranker: none`): it reorders the same candidates on both backends and
would only add model time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from ragtune.config import Config
from ragtune.index.backends import open_index, open_or_create_index, write_lock
from ragtune.index.local_postgres import LocalPostgres
from ragtune.index.tokenize import tokenize
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions

from .common import ROOT, commands, record, run_cli
from .splits import RETRIEVAL_SETS

#: the embedder per set: the default for CMRC; for SciFact (5.7k long English abstracts, ~12 min with the
#: default on 2 cores) the int8 MiniLM, several times faster; the comparison is between backends, not embedders
EMBEDDERS = {"cmrc": "use-multilingual", "scifact": "all-minilm-l6-v2:int8"}
COPY_BATCH = 2_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sets", nargs="*", default=["cmrc", "scifact"])
    parser.add_argument("--limit", type=int, default=500, help="questions per set for eval")
    parser.add_argument("--latency-queries", type=int, default=200)
    args = parser.parse_args()
    with LocalPostgres() as server, tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            run_set(name, server, Path(tmp), args.limit, args.latency_queries)


def run_set(name: str, server: LocalPostgres, tmp: Path, limit: int, latency_queries: int) -> None:
    corpus, data, split = RETRIEVAL_SETS[name]
    embedder = EMBEDDERS[name]
    settings = {"embedder": {"name": embedder}, "retrieval": {"reranker": "none"}}
    config_file = _yaml(tmp / f"{name}.yaml", settings)
    hnsw_file = _yaml(tmp / f"{name}-hnsw.yaml", {**settings, "index": {"exact_below": 1}})
    config = Config.load(config_file)
    log: list[str] = []
    embedded = ROOT / ".ragtune" / "bench" / f"pg-{name}-{embedder.replace(':', '-')}"
    t0 = time.perf_counter()
    run_cli(["read", str(corpus), "--index", str(embedded), "--config", str(config_file)], log)
    read_embedded_s = time.perf_counter() - t0
    copied = f"{server.url}?schema={name}_copied"
    t0 = time.perf_counter()
    copy_index(embedded, copied, config)
    copy_s = time.perf_counter() - t0
    indexes = {"embedded": (str(embedded), config_file), "postgresql": (copied, config_file),
               "postgresql-hnsw": (copied, hnsw_file)}
    extra = {}
    if name == "cmrc":
        read_url = f"{server.url}?schema={name}_read"
        t0 = time.perf_counter()
        run_cli(["read", str(corpus), "--index", read_url, "--config", str(config_file)], log)
        extra["read_postgresql_s"] = round(time.perf_counter() - t0, 1)
        extra["read_postgresql_same_content"] = same_content(embedded, read_url)
        indexes["postgresql-read"] = (read_url, config_file)
    split_args = ["--split", split] if split else []
    metrics = {}
    for label, (location, cfg) in indexes.items():
        out = run_cli(["eval", str(data), "--index", location, "--retrieval-only", "--json", "--limit", str(limit),
                       "--config", str(cfg), *split_args], log)
        found = json.loads(out)["retrieval"]
        metrics[label] = {k: found[k] for k in ("recall@1", "recall@5", "ndcg@10")}
    lexical = lexical_choice(copied, config, load_questions(data, split)[:limit])
    questions = [q.text for q in load_questions(data, split)[:latency_queries]]
    latency = {label: query_latency(location, Config.load(cfg), questions)
               for label, (location, cfg) in indexes.items() if label != "postgresql-read"}
    base = metrics["embedded"]
    diff = {label: max(abs(m[k] - base[k]) for k in base) for label, m in metrics.items()}
    record(
        f"PostgreSQL backend vs embedded: {name} ({embedder})",
        {"bench": "pg_backend", "set": name, "split": split, "embedder": embedder, "n": min(limit, len(
            load_questions(data, split))), "passages": len(open_index(embedded)), "metrics": metrics,
         "max_abs_diff_vs_embedded": diff, "latency_ms": latency, "lexical_choice": lexical,
         "read_embedded_s": round(read_embedded_s, 1),
         "copy_to_postgresql_s": round(copy_s, 1), **extra},
        notes=f"Ran {commands(log)}. `postgresql`: the embedded index's passages, vectors and tokens copied into "
        "PostgreSQL through the backend interface (binary COPY); `postgresql-hnsw`: the same index searched by "
        "its HNSW graph (index.exact_below 1, ef_search ≥ candidates); `postgresql-read`: read by `ragtune read "
        "--index postgresql://...` itself. latency_ms: `backend` = candidate_scores (dense + lexical top "
        "candidates and their exact scores, query vectors precomputed), `retrieve` = Pipeline.retrieve without "
        "rerank (embedding included), p50/p95 over one question at a time; a local server on the same 2 cores. "
        "lexical_choice: lexical search alone (top 5 passages, hit@k = a gold passage among the first k) by BM25 "
        "in SQL over the postings (what the backend does) against PostgreSQL's own full-text ranking "
        "(ts_rank over a GIN-indexed tsvector of the same tokens, OR of the query's tokens).",
    )


def lexical_choice(url: str, config: Config, questions: list) -> dict:
    """BM25 in SQL (the backend) against PostgreSQL full-text search (ts_rank) over the same tokens."""
    index = open_index(url, config)
    conn, schema = index.conn, index.schema
    conn.execute(f"CREATE TABLE {schema}.fts_choice (pid bigint PRIMARY KEY, doc_id text, tsv tsvector)")
    pids, passages = index._pids().tolist(), list(index.passages)  # read before the COPY holds the connection
    with conn.cursor().copy(f"COPY {schema}.fts_choice FROM STDIN") as copy:
        for pid, passage in zip(pids, passages):
            copy.write_row((pid, passage.id, _tsvector(tokenize(index.search_text(passage.embedding_text)))))
    conn.execute(f"CREATE INDEX ON {schema}.fts_choice USING gin (tsv)")
    conn.commit()
    found = {"bm25_sql": [], "ts_rank": []}
    times = {"bm25_sql": [], "ts_rank": []}
    for question in questions:
        tokens = tokenize(index.search_text(question.text))
        t0 = time.perf_counter()
        rows, _ = index.lexical_top(tokens, 5)
        times["bm25_sql"].append((time.perf_counter() - t0) * 1e3)
        ids = [index.passages[int(r)].id for r in rows]
        found["bm25_sql"].append(_hits(ids, question.positive_ids))
        t0 = time.perf_counter()
        query = " | ".join(_quoted(t) for t in dict.fromkeys(tokens)) or "''"
        ids = [r[0] for r in conn.execute(
            f"SELECT doc_id FROM {schema}.fts_choice WHERE tsv @@ %(q)s::tsquery "
            "ORDER BY ts_rank(tsv, %(q)s::tsquery) DESC, pid LIMIT 5", {"q": query})]
        times["ts_rank"].append((time.perf_counter() - t0) * 1e3)
        found["ts_rank"].append(_hits(ids, question.positive_ids))
    conn.rollback()
    return {name: {"hit@1": round(float(np.mean([h[0] for h in hits])), 4),
                   "hit@5": round(float(np.mean([h[1] for h in hits])), 4),
                   "p50_ms": _pct(times[name], 50)} for name, hits in found.items()}


def _tsvector(tokens: list[str]) -> str:
    """The tsvector literal of `tokens` with their positions (so ts_rank sees term frequencies)."""
    positions: dict[str, list[int]] = {}
    for i, token in enumerate(tokens[:16383], start=1):
        positions.setdefault(token, []).append(i)
    return " ".join(f"{_quoted(t)}:{','.join(map(str, p[:256]))}" for t, p in positions.items())


def _quoted(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _hits(ids: list[str], gold) -> tuple[bool, bool]:
    return bool(ids[:1] and ids[0] in gold), any(i in gold for i in ids[:5])


def copy_index(source: Path, url: str, config: Config) -> None:
    """The embedded index's content into a new PostgreSQL index, batch by batch, through the interface."""
    src = open_index(source, config)
    passages, vectors = list(src.passages), np.asarray(src.vectors(), np.float32)
    with write_lock(url, config=config):
        target = open_or_create_index(url, config, src.embedder, src.dim)
        for start in range(0, len(passages), COPY_BATCH):
            batch = passages[start:start + COPY_BATCH]
            sources = {p.source for p in batch}
            target.replace(set(), {k: src.sources[k] for k in sources}, batch, vectors[start:start + COPY_BATCH],
                           [tokenize(src.search_text(p.embedding_text)) for p in batch])
        target.commit()


def same_content(embedded: Path, url: str) -> dict:
    """Whether two indexes of the same files hold the same passages (ids, text) and vectors (float tolerance)."""
    a, b = open_index(embedded), open_index(url)
    pa, pb = sorted(a.passages, key=_key), sorted(b.passages, key=_key)
    va = dict(zip(map(_key, a.passages), np.asarray(a.vectors())))
    vb = dict(zip(map(_key, b.passages), np.asarray(b.vectors())))
    worst = max((float(np.abs(va[k] - vb[k]).max()) for k in va if k in vb), default=0.0)
    return {"passages": [len(pa), len(pb)], "same_ids_and_text": [p.to_json() for p in pa] == [p.to_json() for p in pb],
            "max_vector_diff": worst}


def query_latency(location: str, config: Config, questions: list[str]) -> dict:
    pipeline = Pipeline(location, config, progress=False)
    retriever = pipeline.retriever
    views = [pipeline.store.search_text(q) for q in questions]
    vectors = pipeline.query_embedder.encode_queries(views)
    tokens = [tokenize(v) for v in views]
    retriever.candidate_scores(vectors[0], tokens[0])  # warm: first query loads what it needs
    backend = []
    for vector, toks in zip(vectors, tokens):
        t0 = time.perf_counter()
        retriever.candidate_scores(vector, toks)
        backend.append((time.perf_counter() - t0) * 1e3)
    whole = []
    for question in questions:
        t0 = time.perf_counter()
        retriever.retrieve(question, rerank=False)
        whole.append((time.perf_counter() - t0) * 1e3)
    return {"backend_p50": _pct(backend, 50), "backend_p95": _pct(backend, 95),
            "retrieve_p50": _pct(whole, 50), "retrieve_p95": _pct(whole, 95)}


def _pct(values: list[float], q: int) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def _key(passage) -> tuple[str, int]:
    return passage.id, passage.chunk


def _yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


if __name__ == "__main__":
    main()
