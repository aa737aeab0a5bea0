"""Scores summaries: `summarize`'s output for each document (batched, cached) against its reference summaries."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ragtune.eval.answer_metrics import ROUGE_NAMES, rouge_scores
from ragtune.eval.faithfulness import faithfulness
from ragtune.pipeline import Pipeline
from ragtune.read.summaries import SummaryPair
from ragtune.summarize import Summarizer


@dataclass
class SummaryRecord:
    """One document's outcome; scores 0–100 (faithfulness None: the summary has no sentence with content)."""

    id: str
    language: str
    summary: str
    references: list[str]
    pieces: int
    scores: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score_summaries(summaries: list[str], pairs: list[SummaryPair], langs: list[str], threshold: float
                    ) -> list[dict[str, float | None]]:
    """Each summary's ROUGE-1/2/L against its references (character-level for "zh") and faithfulness to its
    document (eval/faithfulness.py), 0–100."""
    scored = []
    for summary, pair, lang in zip(summaries, pairs, langs, strict=True):
        rouge = rouge_scores(summary, pair.summaries, lang)
        faithful = faithfulness(summary, pair.document, threshold)
        scored.append({**{name: 100 * rouge[name] for name in ROUGE_NAMES},
                       "faithfulness": None if faithful is None else 100 * faithful})
    return scored


def mean_scores(scored: list[dict[str, float | None]]) -> dict[str, float]:
    """Means over documents, rounded; a summary without content counts 0 for faithfulness."""
    n = max(len(scored), 1)
    names = (*ROUGE_NAMES, "faithfulness")
    return {name: round(sum(s[name] or 0.0 for s in scored) / n, 2) for name in names}


def evaluate_summaries(pipeline: Pipeline, pairs: list[SummaryPair], progress: bool = True
                       ) -> tuple[dict[str, Any], list[SummaryRecord]]:
    """(metrics in `eval --json`'s shape: {"n", "task", "summary": {rouge1, rouge2, rougeL, faithfulness},
    "scored_as", "seconds"}, one record per document). `pipeline`'s config comes from `summary_config`."""
    start = time.perf_counter()
    summaries = Summarizer(pipeline, progress=progress).summarize_many([p.document for p in pairs])
    langs = [s.language for s in summaries]
    scored = score_summaries([s.summary for s in summaries], pairs, langs,
                             pipeline.config.eval.faithfulness_threshold)
    records = [SummaryRecord(p.id, s.language, s.summary, list(p.summaries), s.pieces,
                             {k: None if v is None else round(v, 2) for k, v in sc.items()})
               for p, s, sc in zip(pairs, summaries, scored, strict=True)]
    metrics = {"n": len(pairs), "task": "summarize", "length": pipeline.config.summarize.length,
               "summary": mean_scores(scored),
               "scored_as": {lang: langs.count(lang) for lang in ("zh", "en")},
               "map_reduced": sum(s.pieces > 1 for s in summaries),
               "seconds": round(time.perf_counter() - start, 2)}
    return metrics, records
