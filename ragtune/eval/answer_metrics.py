"""Answer-quality metrics (EM, F1, BLEU, ROUGE-L) that match the official SQuAD / CMRC 2018 scorers."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from ragtune.text import language_of

#: "auto": each question's own language decides its metric
METRIC_LANGUAGES = ("auto", "zh", "en")

# --------------------------------------------------------------------------- English: SQuAD v1.1

_SQUAD_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation: lower, drop punctuation, drop articles, collapse whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _SQUAD_PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def squad_f1(prediction: str, ground_truth: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(ground_truth).split()
    num_same = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_em(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


# --------------------------------------------------------------------------- Chinese: CMRC 2018

# Verbatim from cmrc2018_evaluate.py. Note "……" is two characters, so (as in the official script)
# it never matches a single character and a lone "…" is kept.
CMRC_SP_CHAR = [
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
    "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、",
    "「", "」", "（", "）", "－", "～", "『", "』",
]  # fmt: skip
_CMRC_CJK = re.compile("[\u4e00-\u9fa5]")  # the official script's range
# The official script runs nltk.word_tokenize on the non-Chinese runs. nltk is not a dependency, so this
# regex approximates it: word/number runs (keeping "3.14" and "1,000" together) and each other non-space
# symbol as its own token. It differs from nltk only on contractions ("don't" -> nltk "do","n't") and a
# few quote conventions, which are rare in Chinese reading-comprehension answers.
_WORD_TOKEN = re.compile(r"\w+(?:[.,]\w+)*|[^\w\s]")


def _word_tokenize(text: str) -> list[str]:
    return _WORD_TOKEN.findall(text)


def mixed_segmentation(in_str: str, rm_punc: bool = False) -> list[str]:
    """CMRC 2018 segmentation: each Chinese char is a token, non-Chinese runs are word-tokenized."""
    in_str = in_str.lower().strip()
    segs_out: list[str] = []
    temp_str = ""
    for char in in_str:
        if rm_punc and char in CMRC_SP_CHAR:
            continue
        if _CMRC_CJK.search(char) or char in CMRC_SP_CHAR:
            if temp_str != "":
                segs_out.extend(_word_tokenize(temp_str))
                temp_str = ""
            segs_out.append(char)
        else:
            temp_str += char
    if temp_str != "":
        segs_out.extend(_word_tokenize(temp_str))
    return segs_out


def remove_punctuation(in_str: str) -> str:
    """CMRC 2018: lower, strip, and drop the characters in CMRC_SP_CHAR."""
    in_str = in_str.lower().strip()
    return "".join(char for char in in_str if char not in CMRC_SP_CHAR)


def find_lcs(s1: Sequence[str], s2: Sequence[str]) -> tuple[Sequence[str], int]:
    """Longest common contiguous substring of two token lists (first-found on ties, as the script)."""
    m = [[0] * (len(s2) + 1) for _ in range(len(s1) + 1)]
    mmax = 0
    p = 0
    for i in range(len(s1)):
        for j in range(len(s2)):
            if s1[i] == s2[j]:
                m[i + 1][j + 1] = m[i][j] + 1
                if m[i + 1][j + 1] > mmax:
                    mmax = m[i + 1][j + 1]
                    p = i + 1
    return s1[p - mmax : p], mmax


def cmrc_f1(prediction: str, ground_truth: str) -> float:
    ans_segs = mixed_segmentation(ground_truth, rm_punc=True)
    pred_segs = mixed_segmentation(prediction, rm_punc=True)
    _, lcs_len = find_lcs(ans_segs, pred_segs)
    if lcs_len == 0:
        return 0.0
    precision = lcs_len / len(pred_segs)
    recall = lcs_len / len(ans_segs)
    return 2 * precision * recall / (precision + recall)


def cmrc_em(prediction: str, ground_truth: str) -> float:
    return float(remove_punctuation(ground_truth) == remove_punctuation(prediction))


# --------------------------------------------------------------------------- per-question EM / F1


def _lang_of(references: Sequence[str]) -> str:
    return language_of(" ".join(references))


def metric_language(question: str | None, references: Sequence[str] = (), override: str = "auto") -> str:
    """Which scorer a question gets: `override` ("zh"/"en"), else the *question's* language.

    Not the references': "308", "1871年" or "DC" answering a Chinese question would otherwise get the English
    whitespace metric, so "308分" scored F1 0 against "308" instead of the CMRC script's 0.67 (that script segments
    every answer of a Chinese set the same way). Only without a question do the references decide.
    """
    if override not in METRIC_LANGUAGES:
        raise ValueError(f"unknown metric language {override!r}; expected one of {', '.join(METRIC_LANGUAGES)}")
    if override != "auto":
        return override
    return language_of(question) if question else _lang_of(references)


def em_f1(prediction: str, references: Sequence[str], lang: str | None = None) -> tuple[float, float]:
    """(EM, F1) in 0–1, max over references; `lang` ("zh"/"en") from metric_language, else from the references."""
    if not references:
        raise ValueError("em_f1 needs at least one reference answer")
    lang = lang or _lang_of(references)
    if lang == "zh":
        em_fn, f1_fn = cmrc_em, cmrc_f1
    elif lang == "en":
        em_fn, f1_fn = squad_em, squad_f1
    else:
        raise ValueError(f"unknown lang {lang!r}; expected 'zh' or 'en'")
    return max(em_fn(prediction, r) for r in references), max(f1_fn(prediction, r) for r in references)


# --------------------------------------------------------------------------- BLEU (sacrebleu)


def bleu(predictions: Sequence[str], references_list: Sequence[Sequence[str]], lang: str) -> float:
    """Corpus BLEU (0–100); tokenize 'zh' for Chinese, '13a' otherwise; missing refs padded with the first."""
    if len(predictions) != len(references_list):
        raise ValueError("predictions and references_list differ in length")
    if not predictions:
        return 0.0
    if any(not refs for refs in references_list):
        raise ValueError("every prediction needs at least one reference")
    n_refs = max(len(refs) for refs in references_list)
    padded = [list(refs) + [refs[0]] * (n_refs - len(refs)) for refs in references_list]
    ref_streams = [[refs[i] for refs in padded] for i in range(n_refs)]
    metric = BLEU(tokenize="zh" if lang == "zh" else "13a")
    return float(metric.corpus_score(list(predictions), ref_streams).score)


def corpus_bleu_mixed(preds: Sequence[str], refs: Sequence[Sequence[str]], langs: Sequence[str]) -> float:
    """BLEU per language group, combined as a mean weighted by each group's question count."""
    if not (len(preds) == len(refs) == len(langs)):
        raise ValueError("preds, refs and langs differ in length")
    if not preds:
        return 0.0
    total = 0.0
    for lang in sorted(set(langs)):
        idx = [i for i, lg in enumerate(langs) if lg == lang]
        total += len(idx) * bleu([preds[i] for i in idx], [refs[i] for i in idx], lang)
    return total / len(preds)


# --------------------------------------------------------------------------- ROUGE-L (rouge-score)


class CharTokenizer:
    """rouge-score tokenizer for Chinese: one token per character, whitespace and punctuation dropped."""

    def tokenize(self, text: str) -> list[str]:
        return [
            ch
            for ch in text.lower()
            if not ch.isspace() and ch not in _SQUAD_PUNCT and not unicodedata.category(ch).startswith("P")
        ]


_ROUGE = {
    "en": rouge_scorer.RougeScorer(["rougeL"]),
    "zh": rouge_scorer.RougeScorer(["rougeL"], tokenizer=CharTokenizer()),
}


_ROUGE_SUMMARY = {
    "en": rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"]),
    "zh": rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=CharTokenizer()),
}
ROUGE_NAMES = ("rouge1", "rouge2", "rougeL")


def rouge_scores(prediction: str, references: Sequence[str], lang: str | None = None) -> dict[str, float]:
    """ROUGE-1/2/L F-measures (0–1) of a summary, each the max over references; character-level for Chinese
    (as for answers), rouge-score's own word tokenizer (no stemming) for English."""
    if not references:
        raise ValueError("rouge_scores needs at least one reference summary")
    scorer = _ROUGE_SUMMARY[lang or _lang_of(references)]
    scores = [scorer.score(ref, prediction) for ref in references]
    return {name: max(s[name].fmeasure for s in scores) for name in ROUGE_NAMES}


def rouge_l(prediction: str, references: Sequence[str], lang: str | None = None) -> float:
    """ROUGE-L F-measure (0–1), max over references; character-level for Chinese."""
    if not references:
        raise ValueError("rouge_l needs at least one reference answer")
    scorer = _ROUGE[lang or _lang_of(references)]
    return max(scorer.score(ref, prediction)["rougeL"].fmeasure for ref in references)


# --------------------------------------------------------------------------- everything at once


def score_answers(predictions: Sequence[str], references_list: Sequence[Sequence[str]],
                  langs: Sequence[str] | None = None) -> dict[str, float]:
    """{"em","f1","bleu","rouge_l"} on a 0–100 scale; `langs` per question (metric_language), else from refs."""
    if len(predictions) != len(references_list):
        raise ValueError("predictions and references_list differ in length")
    n = len(predictions)
    if n == 0:
        return {"em": 0.0, "f1": 0.0, "bleu": 0.0, "rouge_l": 0.0}
    langs = list(langs) if langs is not None else [_lang_of(refs) for refs in references_list]
    em_sum = f1_sum = rouge_sum = 0.0
    for pred, refs, lang in zip(predictions, references_list, langs, strict=True):
        em, f1 = em_f1(pred, refs, lang)
        em_sum += em
        f1_sum += f1
        rouge_sum += rouge_l(pred, refs, lang)
    return {
        "em": 100 * em_sum / n,
        "f1": 100 * f1_sum / n,
        "bleu": corpus_bleu_mixed(predictions, references_list, langs),
        "rouge_l": 100 * rouge_sum / n,
    }
