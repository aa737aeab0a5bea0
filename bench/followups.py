"""Follow-up questions: is a follow-up retrieved as well as the question it stands for? Rows in one run.

Usage: python -m bench.followups [--sets cmrc squad] [--pairs 150]

Pairs are made from the public sets by a rule, not by hand: two questions on the same paragraph that both name
the article's title (its subject); the first, with its gold answer, is the conversation, and the second has the
title replaced by a pronoun (它 / it) or, for Chinese questions that begin with it, dropped. The gold passage is
the second question's paragraph. Recall@5 of that follow-up is recorded searched four ways (and two fusions of
them), with the pipeline's own retriever (default config) over the reader-quality open-corpus indexes of
bench/reader_quality.py (all paragraphs of CMRC dev and of the English SQuAD subset), pairs made from all
those files' questions:
- alone: the follow-up as asked (retrieval.followups none);
- concat: after the previous user turn (`concat`, ragtune's behaviour before rewriting);
- rewrite: the conversation's subject named by the generator, put in the pronoun's place (`rewrite`, default);
- original: the self-contained second question (the ceiling);
- rewrite+concat, rewrite+alone: reciprocal rank fusion of two of those rankings (measured here only).
Goal (issue 22): rewrite beats concat and closes at least half the gap from concat to original.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from .common import SHARED, commands, record
from .reader_quality import prepare

MODES = ("alone", "concat", "rewrite", "original")
#: the files the open-corpus indexes were read from: pairs come from all their questions
CORPUS = {"cmrc": SHARED / "cmrc2018" / "cmrc2018_dev.json", "squad": SHARED / "expmrc-squad" / "expmrc-squad-dev.json"}


def title_of(article: dict) -> str:
    """The subject an article's questions name: its title, without underscores or a bracketed qualifier."""
    return re.sub(r"\s*\(.*\)$", "", article.get("title", "").replace("_", " ")).strip()


_STOP = set("the a an of in on at to for by with from and or is was are were be did does do what which who whom "
            "whose when where why how many much that this these those its his her their it as than into about after "
            "before during".split())


def shared_subject(first: str, second: str, title: str, chinese: bool) -> str | None:
    """What both questions name: the article's title, else (English) their longest shared phrase that holds a
    capitalised word past the sentence start (a name), at most five words, not starting or ending in a
    function word."""
    if title and title.lower() in first.lower() and title.lower() in second.lower():
        return title
    if chinese:
        return None
    seen = " " + " ".join(w.lower().removesuffix("'s") for w in _words(first)) + " "
    words = _words(second)
    for n in range(5, 0, -1):
        for i in range(len(words) - n + 1):
            gram = words[i : i + n]
            low = [w.lower().removesuffix("'s") for w in gram]
            named = any(w[0].isupper() for w in gram[1:]) or (i > 0 and gram[0][0].isupper())
            if low[0] in _STOP or low[-1] in _STOP or not named or len("".join(low)) < 3:
                continue
            if f" {' '.join(low)} " in seen:
                return " ".join(w.removesuffix("'s") for w in gram)
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9][\w'\-]*", text)


def follow_up(question: str, subject: str, chinese: bool, drop: bool) -> str | None:
    """The question with its subject replaced by a pronoun, or (`drop`, Chinese) dropped from its front."""
    if chinese:
        at = question.find(subject)
        if at < 0:
            return None
        rest = question[at + len(subject) :]
        if drop and at == 0 and len(rest) > 4 and not rest.startswith("的"):
            return rest  # "泡泡战士在哪里运营？" -> "在哪里运营？"
        return question[:at] + "它" + rest
    pattern = re.compile(r"(?:\bthe\s+)?" + re.escape(subject) + r"(?:'s\b)?", re.IGNORECASE)
    match = pattern.search(question)
    if match is None:
        return None
    pronoun = "its" if match.group(0).lower().endswith("'s") else "it"
    return question[: match.start()] + pronoun + question[match.end() :]


def make_pairs(corpus, chinese: bool, limit: int) -> list[dict]:
    """Follow-up pairs from a SQuAD-format file: the second question of two on one paragraph that name the same
    subject; where a set has too few of those (the English subset: 1.6 questions a paragraph), pairs whose first
    question is on another paragraph of the same article fill up to `limit` (marked `same_paragraph: false`)."""
    from ragtune.read.questions import load_questions

    gold = {q.id: q.gold_id for q in load_questions(corpus)}  # the paragraph ids retrieval is scored against
    data = json.loads(Path(corpus).read_text(encoding="utf-8"))["data"]
    near, far = [], []
    for article in data:
        title = title_of(article)
        earlier: list[dict] = []
        for paragraph in article["paragraphs"]:
            asked = [q for q in paragraph["qas"] if q.get("answers")]
            made = next((m for n, second in enumerate(asked)  # one pair a paragraph: many subjects, not a few
                         if (m := _pair(asked[:n], second, title, chinese, len(near) % 2 == 1, gold))), None)
            if made is not None:
                near.append(made)
            else:
                made = next((m for second in asked
                             if (m := _pair(earlier[-3:], second, title, chinese, len(far) % 2 == 1, gold))), None)
                if made is not None:
                    far.append({**made, "same_paragraph": False})
            earlier += asked
    return (near + far)[:limit]


def _pair(candidates: list[dict], second: dict, title: str, chinese: bool, drop: bool, gold: dict) -> dict | None:
    for first in reversed(candidates):
        subject = shared_subject(first["question"], second["question"], title, chinese)
        made = follow_up(second["question"], subject, chinese, drop) if subject else None
        if made and made != second["question"]:
            return {"history": [{"role": "user", "content": first["question"]},
                                {"role": "assistant", "content": first["answers"][0]["text"]}],
                    "followup": made, "original": second["question"], "subject": subject,
                    "gold": gold[second["id"]], "same_paragraph": True}
    return None


def recall_at_5(ranked: list[list], golds: list[str]) -> float:
    return round(sum(any(p.id == g for p in r[:5]) for r, g in zip(ranked, golds)) / len(golds), 3)


def fused(first: list[list], second: list[list], k: int = 60) -> list[list]:
    """Reciprocal rank fusion of two rankings per question (exploratory: the rewrite with the concatenation)."""
    out = []
    for a, b in zip(first, second):
        score: dict = {}
        by_id = {}
        for ranking in (a, b):
            for rank, p in enumerate(ranking):
                score[p.id] = score.get(p.id, 0.0) + 1.0 / (k + rank + 1)
                by_id[p.id] = p
        out.append([by_id[i] for i in sorted(score, key=lambda i: -score[i])])
    return out


def measure(index, pairs: list[dict]) -> dict:
    from ragtune.config import Config
    from ragtune.pipeline import Pipeline

    golds = [p["gold"] for p in pairs]
    rows: dict = {"n": len(pairs), "same_paragraph": sum(p["same_paragraph"] for p in pairs)}
    pipeline = None
    ranked: dict = {}
    for mode in MODES:
        if mode == "original":
            queries = [p["original"] for p in pairs]
        else:
            followups = {"alone": "none"}.get(mode, mode)
            config = Config(retrieval={"followups": followups})
            pipeline = Pipeline(index, config, progress=False, **({"generator": pipeline.generator}
                                                                  if pipeline and pipeline.loaded("generator")
                                                                  else {}))
            start = time.perf_counter()
            queries = pipeline.search_queries([p["followup"] for p in pairs], [p["history"] for p in pairs])
            rows[f"{mode}_query_s"] = round((time.perf_counter() - start) / len(pairs), 3)
            if mode == "rewrite":
                rows["examples"] = [[p["followup"], q] for p, q in zip(pairs[:3], queries[:3])]
        ranked[mode] = pipeline.retrieve_many(queries, 20, progress=False)
        rows[mode] = recall_at_5(ranked[mode], golds)
    rows["rewrite+concat"] = recall_at_5(fused(ranked["rewrite"], ranked["concat"]), golds)
    rows["rewrite+alone"] = recall_at_5(fused(ranked["rewrite"], ranked["alone"]), golds)
    gap = rows["original"] - rows["concat"]
    rows["gap_closed"] = round((rows["rewrite"] - rows["concat"]) / gap, 2) if gap > 0 else None
    rows["goal_met"] = rows["rewrite"] > rows["concat"] and (gap <= 0 or rows["gap_closed"] >= 0.5)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="*", default=["cmrc", "squad"])
    parser.add_argument("--pairs", type=int, default=150)
    args = parser.parse_args()
    log: list[str] = []
    result: dict = {"bench": "followups", "recall@5": {}}
    for name in args.sets:
        _, index = prepare(name, log)
        pairs = make_pairs(CORPUS[name], chinese=name == "cmrc", limit=args.pairs)
        result["recall@5"][name] = measure(index, pairs)
        print(json.dumps({name: result["recall@5"][name]}, ensure_ascii=False), flush=True)
    record("follow-up questions (recall@5: alone / concat / rewrite / original)", result,
           notes="pairs made by rule from all questions of CMRC dev and the English SQuAD subset (two questions on "
           "one paragraph that name the same subject, the article title or a shared name; the second's subject "
           "replaced by 它/it, or dropped from the front of a Chinese question; same_paragraph counts them, the "
           "English rest pair a question with one on an earlier paragraph of the article); the first question "
           "and its gold answer are the conversation; default config and "
           "retriever (rerankers on); query_s: seconds per question to build the search query (rewrite: the "
           "generator naming the subject, batched). Indexes: " + commands(log))


if __name__ == "__main__":
    main()
