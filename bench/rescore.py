"""Re-score saved answers with the question-language metric (issue 17) beside the old reference-based choice.

Usage:
  python -m bench.rescore affected DATA.json [--every 6 --limit 500] ...   # questions whose metric changes
  python -m bench.rescore predictions REPORT_RUN_DIR|predictions.jsonl ...  # old vs new EM/F1/ROUGE-L/BLEU

`predictions.jsonl` is what `ragtune eval --report DIR` writes (DIR/runs/<name>/predictions.jsonl); re-scoring
it needs no model. A question's metric used to follow its *reference* (a number, year or Latin name answering a
Chinese question got the SQuAD whitespace metric); now it follows the question's language.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ragtune.eval.answer_metrics import metric_language, score_answers
from ragtune.read.questions import load_questions
from ragtune.text import language_of

from .common import record


def affected(path: Path, every: int, limit: int | None) -> dict:
    questions = [q for q in load_questions(path)[::every][:limit] if q.answers]
    moved = [q for q in questions if metric_language(q.text, q.answers) != language_of(" ".join(q.answers))]
    return {"data": str(path), "every": every, "n": len(questions), "metric_changes": len(moved),
            "share": round(len(moved) / max(len(questions), 1), 4),
            "examples": [[q.text, q.answers[0]] for q in moved[:3]]}


def rescore(path: Path) -> dict:
    file = path / "predictions.jsonl" if path.is_dir() else path
    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("references")]
    preds = [r.get("prediction") or "" for r in rows]
    refs = [r["references"] for r in rows]
    new_langs = [metric_language(r["question"], r["references"]) for r in rows]
    old = score_answers(preds, refs)
    new = score_answers(preds, refs, new_langs)
    changed = sum(lang != language_of(" ".join(r)) for lang, r in zip(new_langs, refs))
    return {"predictions": str(file), "n": len(rows), "metric_changes": changed,
            "old": {k: round(v, 2) for k, v in old.items()}, "new": {k: round(v, 2) for k, v in new.items()},
            "delta_f1": round(new["f1"] - old["f1"], 2), "delta_em": round(new["em"] - old["em"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["affected", "predictions"])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--every", type=int, default=1, help="affected: every Nth question, as the benches pick")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if args.mode == "affected":
        rows = [affected(p, args.every, args.limit) for p in args.paths]
    else:
        rows = [rescore(p) for p in args.paths]
    result = {"bench": "rescore", "mode": args.mode, "rows": rows}
    if args.no_record:
        print(json.dumps(result, ensure_ascii=False))
    else:
        record(f"answer scoring by question language: {args.mode}", result,
               notes="old = metric chosen from the reference text (before issue 17); new = from the question's "
               "language (CMRC 2018 mixed segmentation for every Chinese question).")


if __name__ == "__main__":
    main()
