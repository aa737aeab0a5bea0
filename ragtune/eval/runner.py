"""Runs a pipeline over eval questions: batched retrieval, cached batched generation, then every metric."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ragtune.ask.question import check_question
from ragtune.ask.retriever import RetrievedPassage
from ragtune.errors import QuestionError, RagtuneError, RagtuneWarning
from ragtune.eval.answer_metrics import em_f1, metric_language, score_answers
from ragtune.eval.grounding import grounding_stats
from ragtune.eval.retrieval_metrics import dedupe, recall_at_k, score_retrieval
from ragtune.generate.citations import cited_numbers, strip_citations
from ragtune.generate.prompt import closed_book_messages
from ragtune.pipeline import Pipeline, answer_sources
from ragtune.read.questions import Question

#: below this share of gold passage ids found in the index, scores say more about ids than about retrieval
GOLD_IN_INDEX_MIN = 0.5
#: retrieval is always this deep so recall@20 and the recall@k curve exist whatever top-k generation uses
RETRIEVE_DEPTH = 20


@dataclass
class QuestionRecord:
    """One question's outcome; `retrieved` are distinct passage ids in rank order (top RETRIEVE_DEPTH)."""

    id: str
    question: str
    references: list[str]
    qrels: dict[str, int]
    all_required: bool = False  # multi-hop: found only when every relevant passage is retrieved
    retrieved: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # ids of the passages the generator saw, [n] order
    hit: bool | None = None  # a relevant passage among the top-k (None: closed book)
    raw: str | None = None  # generated text, citations included (None: retrieval only)
    prediction: str | None = None  # raw without citation markers: what metrics compare
    cited: list[int] = field(default_factory=list)
    em: float | None = None  # 0–100
    f1: float | None = None  # 0–100
    metric_language: str | None = None  # "zh" (CMRC 2018 scorer) or "en" (SQuAD v1.1) for em/f1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvalResult:
    """Metrics in the CLI's JSON shape, plus what produced them and every question's record."""

    metrics: dict[str, Any]
    records: list[QuestionRecord]
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.metrics


def evaluate(pipeline: Pipeline, questions: list[Question], retrieval_only: bool = False,
             closed_book: bool = False, k: int | None = None, progress: bool = True, data: object = None
             ) -> EvalResult:
    """Score `pipeline` on `questions`; without reference answers (BEIR) only retrieval is scored.

    Unless closed-book, metrics also hold `gold_in_index`, the share of the questions' gold passage ids the index
    has, and `warnings` (naming `data`) when that is under half: recall near 0 then means mismatched ids.
    """
    start = time.perf_counter()
    if retrieval_only and closed_book:
        raise RagtuneError("--retrieval-only and --closed-book exclude each other")
    has_answers = any(q.answers for q in questions)
    if closed_book and not has_answers:
        raise RagtuneError("--closed-book needs reference answers; this data has none (BEIR)")
    generate = not retrieval_only and has_answers
    questions, skipped = askable(questions, pipeline.config.retrieval.max_question_chars, data)
    k = k or pipeline.config.retrieval.top_k
    records = [QuestionRecord(q.id, q.text, list(q.answers), dict(q.qrels), q.all_required) for q in questions]

    source_texts: list[list[str]] = [[] for _ in records]  # what each answer could cite, in [n] order
    if closed_book:
        _closed_book(pipeline, records, progress)
    else:
        retrieved = pipeline.retrieve_many([r.question for r in records], max(RETRIEVE_DEPTH, k), progress=progress)
        for record, ranked in zip(records, retrieved, strict=True):
            record.retrieved = dedupe([p.id for p in ranked])
            record.hit = recall_at_k(record.retrieved, record.qrels, k, record.all_required) > 0
        if generate:
            source_texts = _ask(pipeline, records, retrieved, k, progress)
    if generate:
        _score(pipeline, records, source_texts)

    metrics: dict[str, Any] = {"n": len(records)}
    if skipped:
        metrics["skipped_questions"] = skipped
    if not closed_book:
        scores = score_retrieval([r.retrieved for r in records], [r.qrels for r in records],
                                 [r.all_required for r in records])
        metrics["retrieval"] = {name: round(value, 4) for name, value in scores.items()}
    if generate:
        answered = [r for r in records if r.references]
        answers = score_answers([r.prediction or "" for r in answered], [r.references for r in answered],
                                [r.metric_language for r in answered])
        metrics["answer"] = {name: round(answers[name], 2) for name in ("em", "f1", "bleu", "rouge_l")}
        # which scorer each question got (CMRC 2018 "zh" or SQuAD "en"), so a mixed set's figures can be read
        metrics["scored_as"] = {lang: sum(r.metric_language == lang for r in answered) for lang in ("zh", "en")}
        cited_texts = [[source_texts[i][n - 1] for n in r.cited] for i, r in enumerate(records)]
        grounding = grounding_stats([r.prediction or "" for r in records], cited_texts)
        metrics["grounding"] = {name: round(value, 2) for name, value in grounding.items()}
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    if not closed_book:
        share, warning = gold_coverage([r.qrels for r in records], {p.id for p in pipeline.store.passages}, data)
        metrics["gold_in_index"] = share
        if warning:
            metrics["warnings"] = [warning]
    settings = {"retrieval_only": not generate, "closed_book": closed_book, "k": k,
                "adapter": ", ".join(map(str, pipeline.adapters)) or None,
                "metric_language": pipeline.config.eval.metric_language}
    return EvalResult(metrics, records, settings)


def askable(questions: list[Question], max_chars: int, data: object = None
            ) -> tuple[list[Question], int]:
    """The questions `ask` would accept, and how many were left out (one warning naming the first): a data
    file with an empty or endless question is scored on the rest rather than refused whole."""
    kept, problems = [], []
    for question in questions:
        try:
            check_question(question.text, max_chars)
        except QuestionError as exc:
            problems.append(f"{question.id!r}: {exc}")
            continue
        kept.append(question)
    if problems:
        where = f"{data}: " if data else ""
        warnings.warn(RagtuneWarning(f"{where}{len(problems)} question(s) left out, first {problems[0]}"),
                      stacklevel=2)
    return kept, len(problems)


def gold_coverage(qrels: Iterable[dict[str, int]], indexed: set[str], data: object = None
                  ) -> tuple[float, str | None]:
    """Share of distinct gold passage ids in `indexed` (rounded), and a one-line warning when under half."""
    gold = list(dict.fromkeys(pid for rels in qrels for pid in rels))
    missing = [pid for pid in gold if pid not in indexed]
    share = round((len(gold) - len(missing)) / len(gold), 4) if gold else 0.0
    if share >= GOLD_IN_INDEX_MIN:
        return share, None
    first = f" (first missing: {missing[0]!r})" if missing else ""
    return share, (f"{data or 'the eval data'}: only {len(gold) - len(missing)} of {len(gold)} gold passage ids "
                   f"are in the index{first}, so retrieval scores mean little; passage ids come from the file "
                   "name for SQuAD paragraphs without an id: index the same file, or evaluate on the file you "
                   "indexed")


def _ask(pipeline: Pipeline, records: list[QuestionRecord], retrieved: list[list[RetrievedPassage]], k: int,
         progress: bool) -> list[list[str]]:
    """`ask`'s answers from each question's top k (cached); returns the texts of the passages each answer saw."""
    answers = pipeline.ask_many([r.question for r in records], k, retrieved=retrieved,
                                cache=pipeline.generation_cache(), progress=progress)
    source_texts = []
    for record, answer in zip(records, answers, strict=True):
        seen = answer_sources(answer.sources)  # an IDK answer lists the irrelevant passages it was not given
        record.sources = [s.id for s in seen]
        record.raw = answer.answer
        source_texts.append([s.passage.text for s in seen])
    return source_texts


def _closed_book(pipeline: Pipeline, records: list[QuestionRecord], progress: bool) -> None:
    """Answers from the generator alone, no passages: what retrieval adds is measured against these."""
    raws = pipeline.generation_cache().generate(
        [closed_book_messages(r.question) for r in records],
        lambda todo, save: pipeline.generator.generate(todo, progress=progress, on_batch=save))
    for record, raw in zip(records, raws, strict=True):
        record.raw = raw


def _score(pipeline: Pipeline, records: list[QuestionRecord], source_texts: list[list[str]]) -> None:
    """Each answer without citation markers, its citations, and its EM/F1 against the references."""
    for i, record in enumerate(records):
        raw = record.raw or ""
        record.prediction = strip_citations(raw)
        record.cited = cited_numbers(raw, len(source_texts[i]))
        if record.references:
            record.metric_language = metric_language(record.question, record.references,
                                                     pipeline.config.eval.metric_language)
            em, f1 = em_f1(record.prediction, record.references, record.metric_language)
            record.em, record.f1 = round(100 * em, 2), round(100 * f1, 2)
