"""Questions, from every format ragtune takes them in: SQuAD-format json, jsonl, BEIR folders, and the multi-hop
sets (HotpotQA, MuSiQue: read/multihop.py, recognised by their content).

One `Question` and one loader serve eval, every trainer, negative mining and synth (whose jsonl output loads
back here), so "what a question is" and "which passage answers it" are decided in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.encoding import iter_jsonl, read_text_file
from ragtune.read.squad import expect, json_type, paragraph_id, parse_squad, read_json


@dataclass(frozen=True, eq=True)
class Question:
    """A question, its reference answers (none for BEIR) and graded relevance per passage id (`qrels`):
    a SQuAD question's paragraph, a jsonl `passage_id`, or a BEIR folder's qrels rows."""

    id: str
    text: str
    answers: tuple[str, ...] = ()
    qrels: Mapping[str, int] = field(default_factory=dict)
    #: found at k only when every positive passage is in the top k (multi-hop sets: all supporting paragraphs)
    all_required: bool = False

    __hash__ = None  # qrels is a dict: questions are values, not keys

    @property
    def positive_ids(self) -> frozenset[str]:
        """The documents that answer it (a qrels grade above 0)."""
        return frozenset(doc for doc, grade in self.qrels.items() if grade > 0)

    @property
    def gold_id(self) -> str | None:
        """Its one gold document, when the data names exactly one (SQuAD, jsonl with a passage_id)."""
        positives = self.positive_ids
        return next(iter(positives)) if len(positives) == 1 else None


def load_questions(path: str | Path, split: str | None = None, *, answered: bool = False) -> list[Question]:
    """Questions from SQuAD json, jsonl ({"question", "answer" or "answers"[, "id", "passage_id"]}), a BEIR
    folder (queries.jsonl + qrels/<split>.tsv; `split` defaults to test, else train), or HotpotQA / MuSiQue
    (json or json lines; their supporting paragraphs are the gold passages, all of them required).

    `answered` keeps only questions with a reference answer (what training needs). Raises LoadError, naming
    the file and the problem, for anything malformed or empty.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        questions = _load_beir(path, split)
    elif not path.exists():
        raise LoadError(path, "no such file or directory")
    else:
        questions = _load_file(path)
    if answered:
        questions = [q for q in questions if q.answers]
        if not questions:
            raise LoadError(path, "no questions with answers")
    if not questions:
        raise LoadError(path, "no questions")
    return questions


def _load_file(path: Path) -> list[Question]:
    """A json or jsonl file's questions: a multi-hop set when its content is one, else SQuAD or ragtune's jsonl."""
    from ragtune.read import multihop  # it builds Questions: imported here, not at the top, to avoid a cycle

    jsonl = path.suffix.lower() == ".jsonl"
    lines = list(iter_jsonl(path)) if jsonl else []
    raw = [record for _, record in lines] if jsonl else read_json(path)
    kind = multihop.multihop_kind(raw)
    if kind is not None:
        parsed = multihop.parse_multihop(path, raw, kind)
        if not parsed.questions and kind in (multihop.HOTPOTQA_CORPUS, multihop.TITLED_CORPUS):
            raise LoadError(path, f"a {kind} (passages only): questions come from its question file")
        return parsed.questions
    if jsonl:
        return _load_jsonl(path, lines)
    try:
        return _load_squad(path, raw)
    except (KeyError, TypeError, AttributeError) as exc:
        raise LoadError(path, f"malformed SQuAD question entry ({type(exc).__name__}: {exc})") from None


def _load_squad(path: Path, raw: object = None) -> list[Question]:
    """Every question with all its reference answers; its paragraph is its one relevant passage."""
    questions = []
    for a, article in enumerate(parse_squad(path, raw=raw)):
        for p, para in enumerate(article["paragraphs"]):
            pid = paragraph_id(path.stem, a, p, para)
            qas = para.get("qas") or []
            expect(qas, list, path, f"article {a} paragraph {p}", "qas")
            for n, qa in enumerate(qas):
                where = f"article {a} paragraph {p} question {n}"
                if not isinstance(qa, dict):
                    raise LoadError(path, f"{where}: must be an object, not {json_type(qa)}")
                expect(qa.get("question"), str, path, where, "question")
                answers = qa.get("answers") or []
                expect(answers, list, path, where, "answers")
                texts = [x.get("text") if isinstance(x, dict) else x for x in answers]
                answers = [str(t) for t in texts if isinstance(t, (str, int, float)) and str(t).strip()]
                questions.append(Question(str(qa.get("id", "")), qa["question"], tuple(answers), {pid: 1}))
    if not questions:
        raise LoadError(path, "no questions (SQuAD 'qas' lists are empty)")
    return questions


def _load_jsonl(path: Path, lines: list[tuple[int, dict]]) -> list[Question]:
    questions = []
    for number, record in lines:
        text = record.get("question")
        answer = record.get("answer", record.get("answers"))
        answers = [answer] if isinstance(answer, str) else answer
        if not isinstance(text, str) or not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise LoadError(path, f'line {number}: needs "question" and "answer" strings')
        answers = [a for a in answers if a.strip()]
        if text.strip() and answers:
            gold = record.get("passage_id")
            qrels = {str(gold): 1} if gold not in (None, "") else {}
            questions.append(Question(str(record.get("id", f"{path.stem}-{number}")), text, tuple(answers), qrels))
    return questions


def default_split(folder: Path) -> str:
    """BEIR's test split when the folder has one, else train (SciFact ships train only)."""
    return "test" if (folder / "qrels" / "test.tsv").is_file() else "train"


def _load_beir(folder: Path, split: str | None) -> list[Question]:
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
    return [Question(qid, text, (), qrels[qid]) for qid, text in queries.items() if qid in qrels]


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

