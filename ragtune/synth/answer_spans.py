"""Short answer candidates in a sentence (names, numbers, dates, titles), and cloze questions about them.

`synth` picks the answer itself and asks the generator only for a question about it. A small model asked for a
question *and* its answer often copies the sentence and stops (no answer line) or answers with a whole clause;
with the answer fixed, the answer is a verbatim passage span by construction, as in extractive QA data. When
the model's question is unusable too (a 0.5B model mostly copies Chinese sentences), the sentence itself becomes
the question, the answer replaced by a question word: the cloze questions of Lewis et al. 2019 ("Unsupervised
Question Answering by Cloze Translation").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import jieba
import jieba.posseg

from ragtune.text import count_units, is_chinese

jieba.setLogLevel(logging.WARNING)


@dataclass(frozen=True)
class Span:
    text: str
    #: date, number, person, place, title or name: picks the question word of a cloze question
    kind: str


# jieba part-of-speech tags: numerals/times/measure words, and proper names (person, place, organisation, other)
_ZH_QUANTITY = {"m", "t", "q", "mq"}
_ZH_NAME = {"nr": "person", "nrt": "person", "nrfg": "person", "ns": "place", "nt": "name", "nz": "name",
            "eng": "name"}
_ZH_LATIN_NAME = re.compile(r"[A-Z0-9]")
#: single characters that may stand next to a name without being part of it
_FUNCTION_CHARS = set("的了在和与跟同及或等是被将于为对向从把也都就又而之所以其这那上下中里内外后前时由以至到给让使"
                      "并且但却还再已曾会能要可即乃称名号姓氏任率")
_ZH_TITLE = re.compile(r"《([^《》]{1,30})》")
_ZH_NUMERAL = re.compile(r"[0-9０-９]|[一二三四五六七八九十百千万亿两]{2,}")
_ZH_DATE = re.compile(r"[年月日]|世纪|年代")

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_UNITS = (r"%|percent|per cent|million|billion|trillion|thousand|hundred|km|kilometres|kilometers|miles|metres|"
          r"meters|feet|kg|tons|tonnes|years|months|days|hours|minutes|people|students|members|times")
_EN_DATE = re.compile(
    rf"\b(?:{_MONTHS})\s+\d{{1,2}}(?!\d)(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\b(?:{_MONTHS})\s+\d{{4}}|\b\d{{1,2}}\s+(?:{_MONTHS})(?:\s+\d{{4}})?|\b(?:1[0-9]|20)\d{{2}}\b(?!\s*(?:{_UNITS}))"
)
_EN_NUMBER = re.compile(rf"[$£€]?\b\d+(?:,\d{{3}})*(?:\.\d+)?(?:\s*(?:{_UNITS})\b)?")
_CONNECTOR = r"(?:of|the|and|de|von|van|for|on|in|du|la|le)"
_EN_NAME = re.compile(rf"\b[A-Z][\w'’.-]*(?:\s+(?:{_CONNECTOR}\s+)*[A-Z][\w'’.-]*)*")
_EN_QUOTED = re.compile(r"\"([^\"]*)\"|“([^“”]*)”")  # consumed pairwise, so a closing quote never opens one
_EN_LEADING = {"The", "A", "An", "In", "On", "At", "It", "Its", "This", "That", "These", "Those", "He", "She",
               "They", "His", "Her", "Their", "After", "Before", "During", "When", "While", "As", "By", "For",
               "From", "With", "Although", "However", "Since", "Of", "To", "And", "But", "If", "There", "We", "I"}


def chinese_spans(sentence: str) -> list[Span]:
    """Runs of numerals/times/measure words holding a number, runs of proper names, 《titles》."""
    spans = [Span(m.group(1), "title") for m in _ZH_TITLE.finditer(sentence)]
    tokens = [(t.word, t.flag) for t in jieba.posseg.cut(sentence)]
    # a plain English word in Chinese text ("and") is no name; "FC", "DT22" are
    tokens = [(w, "x" if f == "eng" and not _ZH_LATIN_NAME.search(w) else f) for w, f in tokens]
    start = 0
    while start < len(tokens):
        end = _run_end(tokens, start)
        if end == start:
            start += 1
            continue
        run = tokens[start:end]
        text = "".join(word for word, _ in run).strip("·")
        names = [_ZH_NAME[flag] for _, flag in run if flag in _ZH_NAME]
        if names:
            if len(text) >= 2 and not _glued(tokens, start - 1) and not _glued(tokens, end):
                spans.append(Span(text, names[0]))
        elif _ZH_NUMERAL.search(text):
            spans.append(Span(text, "date" if _ZH_DATE.search(text) else "number"))
        start = end
    return spans


def _run_end(tokens: list[tuple[str, str]], start: int) -> int:
    """End of the run of quantity tokens, or of name tokens (joined by "·"), that starts at `start`."""
    def kind(flag: str) -> str | None:
        return "quantity" if flag in _ZH_QUANTITY else "name" if flag in _ZH_NAME else None

    first = kind(tokens[start][1])
    end = start
    while end < len(tokens):
        word, flag = tokens[end]
        joins = first == "name" and word == "·" and end + 1 < len(tokens) and kind(tokens[end + 1][1]) == "name"
        if first is None or (kind(flag) != first and not joins):
            break
        end += 1
    return end


def _glued(tokens: list[tuple[str, str]], i: int) -> bool:
    """Whether the token next to a name is a lone character that is not a function word: jieba then most likely
    cut a longer word ("元|山岛", "郭咏|燊", "天皇|杯"), and the name alone is no answer."""
    if not 0 <= i < len(tokens):
        return False
    word = tokens[i][0]
    return len(word) == 1 and is_chinese(word) and word not in _FUNCTION_CHARS


def english_spans(sentence: str) -> list[Span]:
    """Dates, numbers (with a unit), capitalised names (not a capitalised sentence opener), quoted titles."""
    spans = [Span(quoted, "title") for m in _EN_QUOTED.finditer(sentence)
             if (quoted := (m.group(1) or m.group(2) or "").strip())]
    spans += [Span(m.group(0).strip(), "date") for m in _EN_DATE.finditer(sentence)]
    spans += [Span(m.group(0).strip(), "number") for m in _EN_NUMBER.finditer(sentence)]
    for match in _EN_NAME.finditer(sentence):
        words = re.sub(r"(?:['’]s?|\.)$", "", match.group(0)).split()  # Earth's -> Earth, Kuznets' -> Kuznets
        while words and words[0] in _EN_LEADING:
            words.pop(0)
        while words and re.fullmatch(_CONNECTOR, words[-1]):
            words.pop()
        if words and not (match.start() == 0 and len(words) == 1 and words == match.group(0).split()):
            spans.append(Span(" ".join(words), "name"))
    return spans


FINDERS: dict[str, Callable[[str], list[Span]]] = {"zh": chinese_spans, "en": english_spans}


def answer_spans(sentence: str, lang: str, max_units: int) -> list[Span]:
    """Distinct verbatim candidates, each short enough to be a kept answer and not part of a longer one."""
    found: dict[str, Span] = {}
    for span in FINDERS[lang](sentence):
        if span.text and span.text in sentence:
            found.setdefault(span.text, span)  # the first kind found wins: a year is a date before a number
    return [s for s in found.values() if count_units(s.text) <= max_units
            and not any(s.text != other and s.text in other for other in found)]


# --------------------------------------------------------------------------- question types

#: what a question asks for, by its question words (English names are not told apart from people: "name")
_ASKS = {
    "en": {"date": re.compile(r"\b(?:when|what (?:year|date|day|month|century)|which (?:year|date|month|century))\b",
                              re.IGNORECASE),
           "number": re.compile(r"\bhow (?:many|much|long|far|old|tall|large|big|high)\b", re.IGNORECASE),
           "person": re.compile(r"\bwho(?:m|se)?\b", re.IGNORECASE)},
    "zh": {"date": re.compile(r"什么时候|什么时间|何时|哪一?年|哪天|哪一天|哪个月|几月|几号|何年"),
           "number": re.compile(r"多少|几[个岁次名位人年天种条座部场家]|多[长高大远久重深宽]"),
           "person": re.compile(r"谁")},
}
#: span kinds that can answer each kind of question ("多少年" may be answered by "1998年")
_ANSWERS = {"date": {"date"}, "number": {"number", "date"}, "person": {"person", "name"}}


def asks_for_other_kind(question: str, span: Span, lang: str) -> bool:
    """Whether the question's words ask for another kind of answer than the span ("In what year ...?" with a
    place as answer): the model wrote a question, but not one about the answer it was given."""
    return any(pattern.search(question) and span.kind not in _ANSWERS[kind] for kind, pattern in _ASKS[lang].items())


# --------------------------------------------------------------------------- cloze questions

QUESTION_WORDS = {
    "zh": {"date": "什么时候", "number": "多少", "person": "谁", "place": "哪里", "title": "哪部作品", "name": "什么"},
    "en": {"date": "when", "number": "how many", "person": "who", "place": "where", "title": "what", "name": "what"},
}
_PRONOUN = {"zh": re.compile(r"^[它他她其](?=\w)"), "en": re.compile(r"^(?:It|He|She|They)\b")}
_NUMBER = re.compile(r"^(?:[$£€]?[0-9０-９][\d,.]*|[一二三四五六七八九十百千万亿两]+)")
#: words a question word replaces along with the answer: "completed in 1889" -> "completed when"
_EN_BEFORE = {"date": re.compile(r"\b(?:in|on|at|by|during)\s+\0", re.IGNORECASE),
              "name": re.compile(r"\bthe\s+\0", re.IGNORECASE)}


def cloze_question(sentence: str, span: Span, lang: str, title: str = "") -> str:
    """The sentence asked about `span`: the span replaced by its question word, a leading pronoun by the title.

    A number keeps its unit ("324 metres" -> "how many metres", "21196千米" -> "多少千米")."""
    word, rest = QUESTION_WORDS[lang][span.kind], ""
    number = _NUMBER.match(span.text) if span.kind == "number" else None
    if number and number.group(0)[0] in "$£€":
        word = "how much"
    elif number:
        rest = span.text[number.end():]
    answer = f"《{span.text}》" if span.kind == "title" and f"《{span.text}》" in sentence else span.text
    question = sentence.replace(answer, "\0", 1).strip().rstrip("。．.；;，,！!？?：: ")
    if title and title not in question:
        question = _PRONOUN[lang].sub(title, question, count=1)
    if lang == "en" and span.kind in _EN_BEFORE:
        question = _EN_BEFORE[span.kind].sub("\0", question, count=1)
    if lang == "en" and question.startswith("\0"):
        word = word.capitalize()
    return question.replace("\0", word + rest) + ("？" if lang == "zh" else "?")
