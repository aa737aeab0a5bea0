"""Question/answer pairs synthesised from the indexed passages, for users with documents but no QA data.

Each passage gets one focus sentence (so a passage can yield varied questions), and the generator writes a
question and its answer about it, in the passage's language. With `synth.answer_first`, a short answer is
picked from the sentence first (a name, number, date or title: `answer_spans`) and the generator writes only a
question with that answer; when its question fails the filters, the sentence itself asked about the answer (a
cloze question) takes its place. More pairs survive that way, but they tuned a worse adapter (config.py).
A pair is kept only if the answer is a span (or close paraphrase) of the passage, the question does not give
the answer away, and retrieving the question finds the source document again (the round-trip check): pairs the
retriever cannot answer teach the generator nothing it will see at ask time.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.config import SynthConfig
from ragtune.generate.base import Message
from ragtune.index.store import Passage
from ragtune.pipeline import Pipeline
from ragtune.progress import progress_bar
from ragtune.read.chunking import split_sentences
from ragtune.synth.answer_spans import Span, answer_spans, asks_for_other_kind, cloze_question
from ragtune.text import count_units, language_of, split_units, truncate_units

SYSTEM = {
    "en": (
        "You write one quiz question about the passage you are given, and its answer. The answer must be "
        "copied word for word from the passage and be short (a name, number, date or short phrase). The "
        "question must make sense on its own, without the passage. Reply in exactly two lines:\n"
        "Question: ...\nAnswer: ..."
    ),
    "zh": (
        "你根据给出的资料出一道题并给出答案。答案必须从资料中原样摘录，并且简短（一个名称、数字、日期或短语）。"
        "问题要能脱离资料单独看懂。只输出两行：\n问题：……\n答案：……"
    ),
}
#: the system prompt when the answer is picked first and the model writes only the question
SYSTEM_QUESTION = {
    "en": (
        "You write one quiz question about the passage you are given. The question's answer must be exactly "
        "the answer you are given, and the question must not contain it. The question must make sense on its "
        "own, without the passage. Reply in exactly one line:\nQuestion: ..."
    ),
    "zh": "你根据给出的资料出一道题，题目的答案必须正是给出的答案，题目里不能出现这个答案。问题要能脱离资料单独看懂。"
          "只输出一行：\n问题：……",
}
#: passage, focus sentence, question, answer
LABELS = {"en": ("Passage", "Ask about this sentence", "Question", "Answer"),
          "zh": ("资料", "围绕这句话出题", "问题", "答案")}
#: the one-shot example: title, passage, focus sentence, question, answer
EXAMPLE = {
    "en": ("Eiffel Tower", "The Eiffel Tower is a wrought-iron tower in Paris. It was completed in 1889.",
           "It was completed in 1889.", "In what year was the Eiffel Tower completed?", "1889"),
    "zh": ("长城", "长城位于中国北方。长城的总长度约21196千米。", "长城的总长度约21196千米。",
           "长城的总长度约是多少？", "约21196千米"),
}
_QUESTION = re.compile(r"^\s*(?:question|问题|问)\s*[:：]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_ANSWER = re.compile(r"^\s*(?:answer|答案|答)\s*[:：]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_EDGE_PUNCT = " \t\"'“”‘’「」《》.,;:!?。，；：！？、"


@dataclass
class SynthPair:
    question: str
    answer: str
    passage: Passage
    #: who wrote the question: "model", or "cloze" (the focus sentence asked about the answer)
    source: str = "model"

    def to_json(self, number: int) -> dict:
        return {"id": f"synth-{number}", "question": self.question, "answer": self.answer,
                "passage_id": self.passage.id, "title": self.passage.title,
                "lang": language_of(self.question), "source": self.source}


@dataclass
class SynthReport:
    kept: list[SynthPair] = field(default_factory=list)
    generated: int = 0
    #: why the model's pairs were dropped (a cloze question may still have replaced one)
    rejected: Counter = field(default_factory=Counter)

    @property
    def cloze(self) -> int:
        return sum(pair.source == "cloze" for pair in self.kept)


# --------------------------------------------------------------------------- prompt and filters


@dataclass
class SynthTask:
    """One passage's prompt; `span` is set when the answer was picked first and the model writes only the
    question, `cloze` when that question has a stand-in."""

    passage: Passage
    messages: list[Message]
    span: Span | None = None
    cloze: str | None = None

    @property
    def answer(self) -> str | None:
        return self.span.text if self.span else None

    def parse(self, raw: str) -> tuple[str, str] | None:
        if self.span is None:
            return parse_pair(raw)
        question = parse_question(raw)
        return (question, self.span.text) if question else None

    def choose(self, raw: str, config: SynthConfig, seen: set[str]) -> tuple[SynthPair | None, str | None]:
        """The model's pair if it passes the filters, else the cloze pair if that does; else why the model's
        pair was dropped."""
        pair = self.parse(raw)
        reason = _reason(pair, self.passage.text, config, seen)
        if reason is None and self.span and asks_for_other_kind(pair[0], self.span, language_of(pair[0])):
            reason = "asks for another kind of answer"
        if reason is None:
            return SynthPair(*pair, self.passage), None
        if self.cloze and _reason((self.cloze, self.answer), self.passage.text, config, seen) is None:
            return SynthPair(self.cloze, self.answer, self.passage, "cloze"), reason
        return None, reason


def _reason(pair: tuple[str, str] | None, passage_text: str, config: SynthConfig, seen: set[str]) -> str | None:
    if pair is None:
        return "unparsed"
    reason = rejection(*pair, passage_text, config)
    return "duplicate" if reason is None and _norm(pair[0]) in seen else reason


def focus_sentences(text: str) -> list[str]:
    """Sentences long enough to hold a fact; the question is asked about one of them."""
    return [s for s in split_sentences(text) if count_units(s) >= 8] or [text]


def synth_task(passage: Passage, rng: random.Random, config: SynthConfig) -> SynthTask:
    """Answer first when a focus sentence holds a short span (and `config.answer_first`), else question + answer."""
    lang = language_of(passage.text)
    sentences = focus_sentences(passage.text)
    if config.answer_first:
        options = [(s, spans) for s in sentences if (spans := answer_spans(s, lang, config.max_answer_units))]
        if options:
            sentence, spans = rng.choice(options)
            span = rng.choice(spans)
            messages = synth_messages(passage, sentence, config.max_passage_units, span.text)
            cloze = cloze_question(sentence, span, lang, passage.title) if config.cloze_fallback else None
            return SynthTask(passage, messages, span, cloze)
    return SynthTask(passage, synth_messages(passage, rng.choice(sentences), config.max_passage_units))


def synth_messages(passage: Passage, focus: str, max_units: int, answer: str | None = None) -> list[Message]:
    """A one-shot chat: write a question about `focus` whose answer is `answer`, or (None) a question and answer."""
    lang = language_of(passage.text)
    label, focus_label, question_label, answer_label = LABELS[lang]
    title, text, shot_focus, shot_question, shot_answer = EXAMPLE[lang]
    sep = ": " if lang == "en" else "："

    def user(title: str, body: str, sentence: str, answer: str | None) -> str:
        head = f"{title}: {body}" if title else body
        given = f"\n{answer_label}: {answer}" if answer is not None else ""
        return f"{label}: {head}\n\n{focus_label}: {sentence}{given}"

    reply = f"{question_label}{sep}{shot_question}"
    if answer is None:
        system, shot_given, reply = SYSTEM[lang], None, f"{reply}\n{answer_label}{sep}{shot_answer}"
    else:
        system, shot_given = SYSTEM_QUESTION[lang], shot_answer
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user(title, text, shot_focus, shot_given)},
        {"role": "assistant", "content": reply},
        {"role": "user", "content": user(passage.title, truncate_units(passage.text, max_units), focus, answer)},
    ]


def parse_pair(raw: str) -> tuple[str, str] | None:
    """(question, answer) from the model's two lines, or None when either is missing."""
    question, answer = _QUESTION.search(raw), _ANSWER.search(raw)
    if not question or not answer:
        return None
    answer_text = answer.group(1).strip(_EDGE_PUNCT)
    return (question.group(1).strip(), answer_text) if answer_text else None


def parse_question(raw: str) -> str | None:
    """The question from an answer-first reply: its `Question:` line, else its first non-empty line."""
    labelled = _QUESTION.search(raw)
    if labelled:
        return labelled.group(1).strip()
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    return lines[0] if lines else None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def rejection(question: str, answer: str, passage_text: str, config: SynthConfig) -> str | None:
    """Why a parsed pair is not kept (None: keep it); the round-trip check comes later, in batches."""
    if count_units(question) < 4:
        return "short question"
    if not question.rstrip().endswith(("?", "？")):
        return "not a question"
    if language_of(question) != language_of(passage_text):
        return "wrong language"
    if count_units(answer) > config.max_answer_units:
        return "long answer"
    if _norm(answer) in _norm(question) or _overlap(answer, question) >= config.min_answer_overlap:
        return "answer in question"
    if _norm(answer) in _norm(passage_text):
        return None
    if _overlap(answer, passage_text) < config.min_answer_overlap:
        return "answer not in passage"
    return None


def _overlap(answer: str, text: str) -> float:
    """Share of the answer's units (words, CJK characters, marks) that occur in `text`."""
    units = split_units(answer.lower())
    present = set(split_units(text.lower()))
    return sum(u in present for u in units) / len(units) if units else 0.0


def candidate_passages(passages: list[Passage], config: SynthConfig) -> list[Passage]:
    """Long-enough passages in a seeded order that visits every document once before any twice."""
    rng = random.Random(config.seed)
    pool = [p for p in passages if count_units(p.text) >= config.min_passage_units]
    rng.shuffle(pool)
    seen: Counter = Counter()
    visits = []
    for passage in pool:
        visits.append(seen[passage.id])
        seen[passage.id] += 1
    return [p for _, p in sorted(zip(visits, pool), key=lambda pair: pair[0])]


# --------------------------------------------------------------------------- the loop


def synthesise(pipeline: Pipeline, n: int | None = None, progress: bool = True) -> SynthReport:
    """Up to `n` filtered pairs from `pipeline`'s index, generated in batched rounds until enough survive."""
    config = pipeline.config.synth
    n = n or config.n
    rng = random.Random(config.seed)
    cache = pipeline.generation_cache()
    report = SynthReport()
    pending = candidate_passages(list(pipeline.store.passages), config)
    questions_seen: set[str] = set()
    with progress_bar(total=n, desc="synthesising", unit="pair", enabled=progress) as bar:
        while pending and len(report.kept) < n:
            want = math.ceil((n - len(report.kept)) * config.overgenerate)
            round_passages, pending = pending[:want], pending[want:]
            tasks = [synth_task(p, rng, config) for p in round_passages]
            raws = cache.generate([t.messages for t in tasks],
                                  lambda todo, save: pipeline.generator.generate(todo, progress=progress,
                                                                                 on_batch=save))
            report.generated += len(raws)
            survivors = []
            for task, raw in zip(tasks, raws, strict=True):
                pair, reason = task.choose(raw, config, questions_seen)
                if reason is not None:
                    report.rejected[reason] += 1
                if pair is not None:
                    questions_seen.add(_norm(pair.question))
                    survivors.append(pair)
            for pair in roundtrip(pipeline, survivors, config.roundtrip_k, report.rejected):
                if len(report.kept) < n:
                    report.kept.append(pair)
                    bar.update(1)
    return report


def roundtrip(pipeline: Pipeline, pairs: list[SynthPair], k: int, rejected: Counter) -> list[SynthPair]:
    """The pairs whose question retrieves its source document within the top k."""
    if not pairs:
        return []
    results = pipeline.retrieve_many([p.question for p in pairs], k, progress=False)
    kept = []
    for pair, ranked in zip(pairs, results, strict=True):
        if any(r.passage.id == pair.passage.id for r in ranked):
            kept.append(pair)
        else:
            rejected["round trip"] += 1
    return kept


def write_pairs(pairs: list[SynthPair], out: str | Path) -> Path:
    """jsonl that `ragtune train generator|retriever` read; written to a temp file and renamed."""
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for number, pair in enumerate(pairs):
            fh.write(json.dumps(pair.to_json(number), ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    return out
