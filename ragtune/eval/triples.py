"""Triple precision/recall/F1 (0–100, micro-averaged over all texts), exact and entity-normalised.

Exact: subject, predicate and object strings equal. Normalised: subject and object compared by entity_key,
the predicate by predicate_key (case, camelCase, underscores) — "Abilene,_Texas" and "abilene, texas" match.
Each text's triples count once (duplicates collapse), as in DuIE's and WebNLG's own scoring.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ragtune.graph.triples import Triple
from ragtune.index.graph.normalize import entity_key, predicate_key
from ragtune.read.triples import TripleExample

METRICS = ("precision", "recall", "f1", "precision_norm", "recall_norm", "f1_norm")


def _exact(t: Triple) -> tuple[str, str, str]:
    return (t.subject, t.predicate, t.object)


def _norm(t: Triple) -> tuple[str, str, str]:
    return (entity_key(t.subject), predicate_key(t.predicate), entity_key(t.object))


def match_counts(predicted: Sequence[Triple], gold: Sequence[Triple], normalised: bool = False
                 ) -> tuple[int, int, int]:
    """(true positives, predicted, gold) of one text."""
    key = _norm if normalised else _exact
    p, g = {key(t) for t in predicted}, {key(t) for t in gold}
    return len(p & g), len(p), len(g)


def _prf(tp: int, npred: int, ngold: int) -> tuple[float, float, float]:
    precision = tp / npred if npred else 0.0
    recall = tp / ngold if ngold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def triple_scores(predicted: Sequence[Sequence[Triple]], gold: Sequence[Sequence[Triple]]) -> dict[str, float]:
    """Micro P/R/F1 (0–100, two decimals) over texts, exact and normalised (`*_norm`)."""
    scores = {}
    for suffix, normalised in (("", False), ("_norm", True)):
        counts = [match_counts(p, g, normalised) for p, g in zip(predicted, gold, strict=True)]
        totals = [sum(c[i] for c in counts) for i in range(3)]
        for name, value in zip(("precision", "recall", "f1"), _prf(*totals), strict=True):
            scores[name + suffix] = round(100 * value, 2)
    return scores


def evaluate_triples(pipeline, examples: list[TripleExample], schema=None, progress: bool = True
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metrics in `eval --json`'s shape: {"n", "task", "triples": {...}, "seconds"}, one record per text).
    `pipeline`'s config comes from `extract_config`; generation is batched and cached."""
    from ragtune.graph.extractor import extract_many

    start = time.perf_counter()
    found = extract_many(pipeline, [e.text for e in examples], schema, progress=progress)
    metrics = {"n": len(examples), "task": "extract",
               "triples": triple_scores([f.triples for f in found], [e.triples for e in examples]),
               "predicted": sum(len(f.triples) for f in found), "gold": sum(len(e.triples) for e in examples),
               "seconds": round(time.perf_counter() - start, 2)}
    records = [{"id": e.id, "output": f.output, "predicted": [list(_exact(t)) for t in f.triples],
                "gold": [list(_exact(t)) for t in e.triples]} for e, f in zip(examples, found, strict=True)]
    return metrics, records
