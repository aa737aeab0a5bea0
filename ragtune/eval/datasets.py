"""Eval questions from SQuAD-format json or a BEIR folder, in one shape the runner scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.encoding import iter_jsonl, read_text_file
from ragtune.read.squad import load_squad_questions


@dataclass
class EvalQuestion:
    """A question, its reference answers (empty for BEIR) and graded relevance per passage id."""

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    qrels: dict[str, int] = field(default_factory=dict)


def load_eval_data(path: str | Path, split: str | None = None) -> list[EvalQuestion]:
    """SQuAD json (gold = the question's paragraph) or BEIR folder (qrels/<split>.tsv); raises LoadError."""
    path = Path(path).expanduser()
    if path.is_dir():
        return _load_beir(path, split)
    if not path.exists():
        raise LoadError(path, "no such file or directory")
    try:
        squad = load_squad_questions(path)
    except (KeyError, TypeError, AttributeError) as exc:
        raise LoadError(path, f"malformed SQuAD question entry ({type(exc).__name__}: {exc})") from None
    if not squad:
        raise LoadError(path, "no questions (SQuAD 'qas' lists are empty)")
    return [EvalQuestion(q.id, q.question, list(q.answers), {q.passage_id: 1}) for q in squad]


def default_split(folder: Path) -> str:
    """BEIR's test split when the folder has one, else train (SciFact ships train only)."""
    return "test" if (folder / "qrels" / "test.tsv").is_file() else "train"


def _load_beir(folder: Path, split: str | None) -> list[EvalQuestion]:
    queries_file = folder / "queries.jsonl"
    if not queries_file.is_file():
        raise LoadError(folder, "not a BEIR folder (no queries.jsonl) and not a SQuAD json file")
    split = split or default_split(folder)
    qrels_file = folder / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        have = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise LoadError(qrels_file, f"no qrels for split {split!r} (have: {', '.join(have) or 'none'})")
    queries = _read_queries(queries_file)
    qrels = _read_qrels(qrels_file)
    missing = [qid for qid in qrels if qid not in queries]
    if missing:
        raise LoadError(qrels_file, f"{len(missing)} query ids not in queries.jsonl (first: {missing[0]!r})")
    # queries.jsonl order, keeping only the queries this split judges
    return [EvalQuestion(qid, text, [], qrels[qid]) for qid, text in queries.items() if qid in qrels]


def _read_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for number, record in iter_jsonl(path):
        qid = record.get("_id", record.get("id"))
        text = record.get("text")
        if qid in (None, "") or not isinstance(text, str):
            raise LoadError(path, f'line {number}: needs "_id" and "text"')
        queries[str(qid)] = text
    return queries


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """`query-id corpus-id score` rows (tab or space separated, header optional), graded scores."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        cols = line.split()
        if not cols:
            continue
        if number == 1 and cols[0] == "query-id":
            continue
        if len(cols) != 3:
            raise LoadError(path, f"line {number}: expected 'query-id corpus-id score', got {line.strip()!r}")
        try:
            score = int(cols[2])
        except ValueError:
            raise LoadError(path, f"line {number}: score {cols[2]!r} is not an integer") from None
        qrels.setdefault(cols[0], {})[cols[1]] = score
    if not qrels:
        raise LoadError(path, "no qrels rows")
    return qrels
