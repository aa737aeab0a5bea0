"""Follow-up questions made standalone before retrieval: "它有多长？" after a question about the Great Wall.

A follow-up's subject is often a pronoun or missing, so it retrieves poorly on its own; concatenating the
previous question helps a little and drags in its words. Asked to rewrite a follow-up, the 0.5B generator mostly
echoes it; asked what the conversation is about, it names the subject well ("泡泡战士", "the Sydney Opera
House"). So `retrieval.followups: rewrite` asks for the subject of the last exchange and puts it in the
follow-up's place: for its pronoun when it has one ("它有多长？" -> "长城有多长？"), else before it. A reply that
does not look like a name (empty, several lines, long), or names something the conversation never mentions (the
model's invention: it misspells names, "固定站" for "固始站", or copies its worked example's "the Eiffel
Tower"), falls back to the concatenation. BENCHMARKS.md
("Follow-up questions") measures the three against the self-contained question.
"""

from __future__ import annotations

import re

from ragtune.generate.base import Message
from ragtune.text import language_of

#: characters of the last exchange shown (answers cite passages and can run long)
TURN_CHARS = 300
#: a reply longer than this is not a name
MAX_SUBJECT_CHARS = 60

SYSTEM = {
    "en": "Name the main thing the user asked about in the conversation (a person, place, work, organisation, "
          "event...). Reply with the name only.",
    "zh": "找出对话中用户所问的主要事物（人名、地名、作品名、组织名、事件等）。只输出这个名称。",
}
EXAMPLE = {
    "en": ("Who designed the Eiffel Tower?", "Gustave Eiffel", "the Eiffel Tower"),
    "zh": ("长城位于哪个国家？", "中国", "长城"),
}
LABELS = {"en": ("User", "Assistant"), "zh": ("用户", "助手")}
#: pronouns a follow-up puts in its subject's place; possessives become "<subject>'s"
_EN_PRONOUN = re.compile(r"\b(it|he|she|they|him|them|this|that)\b", re.IGNORECASE)
_EN_POSSESSIVE = re.compile(r"\b(its|his|her|their)\b", re.IGNORECASE)
_EN_THERE = re.compile(r"\b(?:in |at )?there\b", re.IGNORECASE)
_ZH_PRONOUN = re.compile(r"它们|他们|她们|它|他|她|该|此|这里|那里|其")
_CJK = re.compile(r"[\u4e00-\u9fff]+")
#: characters that end a Chinese subject when widening it: copulas, particles, prepositions, question words
_PREDICATE = set("是的在有为于位属隶叫称指被把和与及或由从向对全共一几多哪什谁怎如何何吗呢了将会能可所也都就还又曾已最")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+|'s$")
_CITATION = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def user_turns(history: list[Message] | None) -> list[str]:
    return [m["content"] for m in (history or []) if m.get("role") == "user"]


def concatenated(question: str, history: list[Message] | None) -> str:
    """The follow-up after the user's previous turn: the cheap form of context (and the fallback)."""
    previous = user_turns(history)
    return f"{previous[-1]}\n{question}" if previous else question


def subject_messages(question: str, history: list[Message]) -> list[Message]:
    """The prompt asking the generator what the last exchange in `history` is about (one worked example)."""
    lang = language_of(question)
    asked, answered, subject = EXAMPLE[lang]
    return [{"role": "system", "content": SYSTEM[lang]},
            {"role": "user", "content": _exchange(asked, answered, lang)},
            {"role": "assistant", "content": subject},
            {"role": "user", "content": _exchange(*_last_exchange(history), lang)}]


def _last_exchange(history: list[Message]) -> tuple[str, str]:
    """The last user turn and the assistant's reply to it (empty if none yet)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i].get("role") == "user":
            reply = next((m["content"] for m in history[i + 1 :] if m.get("role") == "assistant"), "")
            return history[i]["content"], reply
    return "", ""


def _exchange(asked: str, answered: str, lang: str) -> str:
    user, assistant = LABELS[lang]
    return f"{user}: {_clip(asked)}\n{assistant}: {_clip(_CITATION.sub('', answered))}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TURN_CHARS else text[:TURN_CHARS] + "…"


def standalone(question: str, history: list[Message], generated: str) -> str:
    """`question` with the generator's named subject in its pronoun's place (or before it); the concatenation
    when the reply does not look like a name."""
    lines = [line.strip() for line in generated.strip().splitlines() if line.strip()]
    subject = lines[0].strip(" \"'“”「」。.") if len(lines) == 1 else ""
    if not subject or len(subject) > MAX_SUBJECT_CHARS or subject.lower() in question.lower():
        return question if subject and subject.lower() in question.lower() else concatenated(question, history)
    if not mentioned(subject, history):
        return concatenated(question, history)
    if language_of(question) == "zh":
        subject = _widened(subject, _last_exchange(history)[0])
        replaced, n = _ZH_PRONOUN.subn(subject, question, count=1)
        return replaced if n else f"{subject}{question}"
    replaced, n = _EN_POSSESSIVE.subn(f"{subject}'s", question, count=1)
    if not n:
        replaced, n = _EN_THERE.subn(f"in {subject}", question, count=1)
    if not n:
        replaced, n = _EN_PRONOUN.subn(subject, question, count=1)
    return replaced if n else f"{subject}: {question}"


def mentioned(subject: str, history: list[Message]) -> bool:
    """Whether an earlier turn names `subject` (case, spacing and an English article or 's aside)."""
    said = " ".join(" ".join(m.get("content", "").split()) for m in history).lower()
    return _ARTICLE.sub("", " ".join(subject.split()).lower()) in said


def _widened(subject: str, asked: str) -> str:
    """The Chinese name around `subject` in the earlier question: the 0.5B model tends to name a part of it
    ("鼓" for "锣鼓经", "铁路" for "广茂铁路"); the name is widened over the CJK characters next to it, up to
    punctuation or a character that starts the predicate (是, 的, 在, 有, 全, 一, 多, ...)."""
    at = asked.find(subject)
    if at < 0 or not _CJK.fullmatch(subject[:1] + subject[-1:]):
        return subject
    start, end = at, at + len(subject)
    while start > 0 and _CJK.fullmatch(asked[start - 1]) and asked[start - 1] not in _PREDICATE:
        start -= 1
    while end < len(asked) and _CJK.fullmatch(asked[end]) and asked[end] not in _PREDICATE:
        end += 1
    return asked[start:end]


def needs_rewrite(history: list[Message] | None) -> bool:
    """Only a question with earlier user turns can depend on them."""
    return bool(user_turns(history))
