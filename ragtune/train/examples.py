"""RAFT training examples: ask's exact prompt over gold + retrieved distractors, answer cited like ask's output."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ragtune.ask.retriever import RetrievedPassage
from ragtune.errors import LoadError
from ragtune.generate.base import Message
from ragtune.generate.prompt import build_messages, idk_answer
from ragtune.index.store import Passage
from ragtune.read.questions import Question, load_questions
from ragtune.text import count_units


@dataclass
class TrainExample:
    """One prompt + target. `passages` are (title, text) in [n] order; `gold_position` is 1-based or None."""

    id: str
    question: str
    answers: list[str]
    passages: list[tuple[str, str]]
    target: str
    gold_position: int | None
    max_units: int = 320
    passage_ids: list[str] = field(default_factory=list)

    def messages(self, max_units: int | None = None) -> list[Message]:
        """ask's prompt for these passages; a smaller `max_units` shortens each passage (tokenizer truncation)."""
        return build_messages(self.question, self.passages, max_units or self.max_units)


@dataclass
class EvalExample:
    """A held-out question with ask's real prompt (relevant top-k in rank order); None: ask answers IDK."""

    id: str
    question: str
    answers: list[str]
    messages: list[Message] | None


# --------------------------------------------------------------------------- building


def contains_answer(passage: Passage, answers: Sequence[str]) -> bool:
    text = passage.text.lower()
    return any(a.lower() in text for a in answers)


def _key(passage: Passage) -> tuple[str, int]:
    return passage.id, passage.chunk


def find_gold(question: Question, retrieved: Sequence[Passage],
              passages_by_id: Mapping[str, Sequence[Passage]] | None = None) -> Passage | None:
    """The chunk of the gold document that holds an answer; without a gold id, the top retrieved one that does."""
    if question.gold_id is None:
        return next((p for p in retrieved if contains_answer(p, question.answers)), None)
    chunks = [p for p in retrieved if p.id == question.gold_id]
    chunks += list((passages_by_id or {}).get(question.gold_id, ()))
    with_answer = next((p for p in chunks if contains_answer(p, question.answers)), None)
    if with_answer is None and len({_key(p) for p in chunks}) == 1:
        return chunks[0]  # a one-chunk gold document is gold even if the answer is normalised differently
    return with_answer


def build_examples(questions: Sequence[Question], retrieved: Sequence[Sequence[Passage]], *, k: int,
                   gold_probability: float, seed: int, max_units: int = 320,
                   passages_by_id: Mapping[str, Sequence[Passage]] | None = None,
                   no_gold_target: str = "answer") -> list[TrainExample]:
    """One example per question whose gold passage is found; the others are left out.

    With probability `gold_probability` the prompt holds the gold passage and the k-1 best distractors (the
    gold replaces the last distractor when retrieval missed it) and the target is `"{answer} [n]"`; otherwise
    it holds the k best passages without any answer and the target is the answer without a citation
    (`no_gold_target="answer"`, as in RAFT, so the model also learns the domain) or the question language's IDK
    (`"idk"`). Passage order is shuffled by an RNG seeded from (seed, question), so the result depends on
    nothing else.
    """
    if no_gold_target not in ("answer", "idk"):
        raise ValueError(f"no_gold_target must be 'answer' or 'idk', not {no_gold_target!r}")
    examples = []
    for i, (question, ranked) in enumerate(zip(questions, retrieved, strict=True)):
        gold = find_gold(question, ranked, passages_by_id)
        if gold is None:
            continue
        rng = random.Random(f"{seed}/{i}/{question.id}")
        with_gold = rng.random() < gold_probability
        seen = {_key(gold)}
        distractors = []
        for passage in ranked:
            if _key(passage) in seen or (not with_gold and contains_answer(passage, question.answers)):
                continue
            seen.add(_key(passage))
            distractors.append(passage)
        shown = [gold, *distractors[: k - 1]] if with_gold else distractors[:k]
        rng.shuffle(shown)
        if with_gold:
            position = next(n for n, p in enumerate(shown, start=1) if p is gold)
            target = f"{question.answers[0]} [{position}]"
        else:
            position = None
            target = question.answers[0] if no_gold_target == "answer" else idk_answer(question.text)
        examples.append(TrainExample(question.id, question.text, list(question.answers),
                                     [(p.title, p.text) for p in shown], target, position, max_units,
                                     [p.id for p in shown]))
    return examples


def build_eval_examples(questions: Sequence[Question], retrieved: Sequence[Sequence[RetrievedPassage]], *,
                        k: int, max_units: int = 320) -> list[EvalExample]:
    """What ask would prompt with: the relevant passages among the top k, in rank order."""
    examples = []
    for question, ranked in zip(questions, retrieved, strict=True):
        sources = [r.passage for r in ranked[:k] if r.relevant]
        messages = (build_messages(question.text, [(p.title, p.text) for p in sources], max_units)
                    if sources else None)
        examples.append(EvalExample(question.id, question.text, list(question.answers), messages))
    return examples


def keep_short_answers(questions: Sequence[Question], max_units: int | None
                       ) -> list[Question]:
    """Each question with only its answers of at most `max_units` units; questions left with none are dropped.

    ask's prompt asks for the shortest correct answer, so a long reference answer (a clause, a sentence) teaches
    the opposite: an adapter trained on CMRC's training file learnt its long answers (BENCHMARKS.md).
    """
    if max_units is None:
        return list(questions)
    shortened = (replace(q, answers=tuple(a for a in q.answers if count_units(a) <= max_units)) for q in questions)
    return [q for q in shortened if q.answers]


def load_short_questions(path: str | Path, max_units: int | None) -> tuple[list[Question], int]:
    """(questions with their answers of at most `max_units` units, how many were skipped); LoadError if none left."""
    loaded = load_questions(path, answered=True)
    questions = keep_short_answers(loaded, max_units)
    if not questions:
        raise LoadError(path, f"no answer of at most {max_units} units (train.max_answer_units)")
    return questions, len(loaded) - len(questions)


def split_questions(questions: Sequence[Question], *, fraction: float, size: int | None, seed: int
                    ) -> tuple[list[Question], list[Question]]:
    """(train, held out): a seeded random `size` (or `fraction`, at least 1 of 2+) questions are held out."""
    n = len(questions)
    held = size if size is not None else (max(1, round(fraction * n)) if fraction > 0 and n >= 2 else 0)
    held = min(held, n - 1) if n > 1 else 0
    order = list(range(n))
    random.Random(f"{seed}/split").shuffle(order)
    held_rows = set(order[:held])
    return ([q for i, q in enumerate(questions) if i not in held_rows],
            [q for i, q in enumerate(questions) if i in held_rows])
