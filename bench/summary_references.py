"""How faithful are the reference summaries themselves, by eval's lexical measure? And what would
`summarize.train_min_support` keep of them for training?

Usage: python -m bench.summary_references [--words 150]

No model: CSL titles against their abstracts (all 1,000 rows) and the SummEval CNN/DailyMail references (the
original highlights and ten more per article) against their articles, whole and cut to --words words as
bench/summarization.py cuts them. A tuned adapter learns to write like its references, so references scored
below the base model's summaries pull faithfulness down (BENCHMARKS.md, Summaries).
"""

from __future__ import annotations

import argparse
import json

from ragtune.eval.faithfulness import THRESHOLD, faithfulness, sentence_support, source_grams
from ragtune.read.chunking import split_sentences

from .common import record
from .summarization import DATA

SUPPORTS = (0.3, 0.4, 0.5, 0.6)


def csl_pairs() -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in (DATA / "csl-title-dev.tsv").read_text(encoding="utf-8").splitlines()]
    return [(r[2].strip(), r[1].strip()) for r in rows]


def cnndm_pairs(words: int | None) -> list[tuple[str, str]]:
    articles = [json.loads(line) for line in (DATA / "cnndm-summeval-100.jsonl").read_text().splitlines()]
    pairs = []
    for a in articles:
        document = " ".join(a["src"].split()[:words]) if words else a["src"]
        pairs += [(s, document) for s in dict.fromkeys([a["ref_summ"], *a["ref_summs"]])]
    return pairs


def describe(pairs: list[tuple[str, str]]) -> dict:
    """Mean faithfulness (0-100) of the references, and the share of their sentences and of the pairs that keep
    at least one sentence at each minimum support."""
    supports, kept_pairs = [], dict.fromkeys(SUPPORTS, 0)
    scores = [v for v in (faithfulness(s, d) for s, d in pairs) if v is not None]
    for summary, document in pairs:
        grams = source_grams(document)
        values = [v for v in (sentence_support(x, grams) for x in split_sentences(summary)) if v is not None]
        supports += values
        for t in SUPPORTS:
            kept_pairs[t] += any(v >= t for v in values)
    return {"pairs": len(pairs), "sentences": len(supports),
            "faithfulness": round(100 * sum(scores) / len(scores), 1),
            "sentences_kept": {str(t): round(sum(v >= t for v in supports) / len(supports), 3) for t in SUPPORTS},
            "pairs_kept": {str(t): round(n / len(pairs), 3) for t, n in kept_pairs.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=150, help="cnndm: words of each article kept, as trained on")
    args = parser.parse_args()
    result = {"bench": "summary_references", "threshold": THRESHOLD, "csl": describe(csl_pairs()),
              f"cnndm_{args.words}_words": describe(cnndm_pairs(args.words)),
              "cnndm_whole": describe(cnndm_pairs(None))}
    record("summary references: faithfulness of the references themselves", result,
           notes="faithfulness as `eval --task summarize` scores it (share of sentences with >= 60% of their unit "
           "bigrams in the source, 0-100); sentences_kept / pairs_kept: the share of reference sentences, and of "
           "pairs with at least one sentence, at or above each summarize.train_min_support")


if __name__ == "__main__":
    main()
