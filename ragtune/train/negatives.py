"""Retriever training data: questions with their positive passages and hard negatives mined from the index.

Hard negatives are the passages BM25 and the dense retriever rank highest that are *not* answers: never a
gold/qrels-positive document and never a passage containing a reference answer (a false negative teaches the
retriever to push the right passage away). The same rule masks in-batch negatives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ragtune.index.backends import IndexBackend
from ragtune.index.passage import Passage
from ragtune.index.tokenize import tokenize
from ragtune.read.questions import Question
from ragtune.train.examples import contains_answer


@dataclass
class RetrieverExample:
    """Question number `query` (in the loaded list), one positive passage row, hard-negative rows best first."""

    query: int
    positive: int
    negatives: list[int]


def is_positive(question: Question, passage: Passage) -> bool:
    """A passage that must never be a negative for `question`: its gold document, or one holding an answer."""
    if passage.id in question.positive_ids:
        return True
    return bool(question.answers) and contains_answer(passage, question.answers)


class NegativeMiner:
    """Candidates from BM25 and dense rankings of one index, interleaved, with every positive removed."""

    def __init__(self, store: IndexBackend, depth: int = 30):
        self.store, self.depth = store, depth
        self.rows_by_id: dict[str, list[int]] = defaultdict(list)
        for row, passage in enumerate(store.passages):
            self.rows_by_id[passage.id].append(row)

    def candidates(self, question: str, vector: np.ndarray) -> list[int]:
        """Rows in the order dense 1, BM25 1, dense 2, BM25 2, ... (each once)."""
        n = len(self.store)
        depth = min(self.depth, n)
        _, dense = self.store.dense_top(np.asarray(vector, np.float32)[None, :], depth)
        lexical, _ = self.store.lexical_top(tokenize(self.store.search_text(question)), depth)
        order: list[int] = []
        seen: set[int] = set()
        for pair in zip(_padded(dense[0], depth), _padded(lexical, depth)):
            for row in pair:
                if row >= 0 and row not in seen:
                    seen.add(row)
                    order.append(row)
        return order

    def negatives(self, question: Question, vector: np.ndarray, n: int) -> list[int]:
        passages = self.store.passages
        return [r for r in self.candidates(question.text, vector) if not is_positive(question, passages[r])][:n]

    def positives(self, question: Question, vector: np.ndarray) -> list[int]:
        """One row per positive document: its chunk holding an answer, else its first chunk.

        Without a positive document (jsonl without passage_id), the best-ranked passage holding an answer.
        """
        passages = self.store.passages
        if not question.positive_ids:
            found = next((r for r in self.candidates(question.text, vector) if is_positive(question, passages[r])),
                         None)
            return [] if found is None else [found]
        rows = []
        for doc in sorted(question.positive_ids):
            chunks = self.rows_by_id.get(doc, [])
            with_answer = [r for r in chunks if question.answers and contains_answer(passages[r], question.answers)]
            if with_answer or chunks:
                rows.append((with_answer or chunks)[0])
        return rows


def mine_examples(store: IndexBackend, questions: Sequence[Question], vectors: np.ndarray, *,
                  hard_negatives: int, depth: int) -> list[RetrieverExample]:
    """One example per (question, positive document in the index); questions without one are left out."""
    miner = NegativeMiner(store, depth)
    examples = []
    for i, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
        positives = miner.positives(question, vector)
        if not positives:
            continue
        negatives = miner.negatives(question, vector, hard_negatives) if hard_negatives else []
        examples.extend(RetrieverExample(i, row, negatives) for row in positives)
    return examples


@dataclass
class ContrastiveBatch:
    """Queries × passage columns: each query's positive column, and which columns may count as its negatives."""

    queries: list[int]
    columns: list[int]
    targets: list[int]
    allowed: np.ndarray  # (queries, columns) bool


def make_batch(examples: Sequence[RetrieverExample], questions: Sequence[Question],
               passages: Sequence[Passage]) -> ContrastiveBatch:
    """Columns are every positive and hard negative of the batch (in-batch negatives), each once.

    A column that is a positive for another question of the batch (same paragraph, or one holding its answer)
    is masked for that question rather than taught as a negative.
    """
    columns: list[int] = []
    where: dict[int, int] = {}
    for ex in examples:
        for row in (ex.positive, *ex.negatives):
            if row not in where:
                where[row] = len(columns)
                columns.append(row)
    allowed = np.ones((len(examples), len(columns)), dtype=bool)
    for i, ex in enumerate(examples):
        question = questions[ex.query]
        for j, row in enumerate(columns):
            if row != ex.positive and is_positive(question, passages[row]):
                allowed[i, j] = False
    return ContrastiveBatch([ex.query for ex in examples], columns, [where[ex.positive] for ex in examples], allowed)


def _padded(rows: np.ndarray, length: int) -> list[int]:
    rows = [int(r) for r in rows]
    return rows + [-1] * (length - len(rows))
