"""`eval --task extract` end to end with the real generator on a few real DuIE and WebNLG lines (read from
../shared): batched, cached generations, scored in eval --json's shape."""

from __future__ import annotations

import itertools

from datafiles import SHARED

from ragtune.config import Config
from ragtune.eval.triples import METRICS, evaluate_triples
from ragtune.graph.extractor import configured_schema, extract_config, prompt_for
from ragtune.pipeline import Pipeline
from ragtune.read.triples import load_triples

KG = SHARED / "kg"


def lines(source, target, start, n):
    with open(source, encoding="utf-8") as f:
        target.write_text("".join(itertools.islice(f, start, start + n)), encoding="utf-8")
    return load_triples(target)


def test_extract_eval_scores_and_caches(tmp_path):
    config = extract_config(Config(extract={"schema_file": str(KG / "duie_schema.json"), "max_new_tokens": 64}))
    schema = configured_schema(config)
    examples = lines(KG / "duie2-dev-1000.jsonl", tmp_path / "duie.jsonl", 40, 3)
    pipeline = Pipeline(tmp_path / "no-index", config, progress=False)
    metrics, records = evaluate_triples(pipeline, examples, schema, progress=False)
    assert metrics["n"] == 3 and metrics["task"] == "extract" and set(metrics["triples"]) == set(METRICS)
    assert all(0 <= v <= 100 for v in metrics["triples"].values())
    assert metrics["gold"] == sum(len(e.triples) for e in examples) == sum(len(r["gold"]) for r in records)
    assert all(r["output"] for r in records)  # the model wrote something for each
    assert all(p[1] in schema.predicates for r in records for p in r["predicted"])
    cache = pipeline.generation_cache()
    keys = [cache.key(prompt_for(e.text, config, schema)) for e in examples]
    assert set(cache.get_many(keys)) == set(keys)  # a rerun generates nothing
    again, _ = evaluate_triples(pipeline, examples, schema, progress=False)
    assert again["triples"] == metrics["triples"]
