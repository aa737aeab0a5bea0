"""(document, summary) pairs, from every format ragtune takes them in: jsonl, tsv, and SummEval's CNN/DailyMail jsonl.

One `SummaryPair` and one loader serve `train generator --task summarize`, `eval --task summarize` and the
summarization benchmark, as `read/questions.py` does for questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragtune.errors import LoadError
from ragtune.read.encoding import iter_jsonl, read_text_file

#: jsonl keys of the document and of its reference summaries, in the order they are looked for (SummEval's
#: CNN/DailyMail file: `src`, `ref_summ` the original highlights, `ref_summs` eleven more references)
DOCUMENT_KEYS = ("document", "text", "src")
SUMMARY_KEYS = ("summary", "summaries", "ref_summ")
EXTRA_SUMMARY_KEYS = ("ref_summs",)


@dataclass(frozen=True)
class SummaryPair:
    """A document and its reference summaries; the first reference is the training target."""

    id: str
    document: str
    summaries: tuple[str, ...]

    @property
    def target(self) -> str:
        return self.summaries[0]


def load_summaries(path: str | Path) -> list[SummaryPair]:
    """Pairs from jsonl ({"document"|"text"|"src", "summary"|"summaries"|"ref_summ"[, "ref_summs", "id"|"doc_id"]})
    or tsv (`document<TAB>summary`, or CSL's `prefix<TAB>abstract<TAB>title`). LoadError naming the file and line
    for anything malformed, and when no pair is left."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LoadError(path, "no such file" if not path.exists() else "not a regular file")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        pairs = _load_jsonl(path)
    elif suffix in (".tsv", ".txt"):
        pairs = _load_tsv(path)
    else:
        raise LoadError(path, f"unsupported summary data {suffix or '(none)'!r}: use .jsonl or .tsv")
    if not pairs:
        raise LoadError(path, "no (document, summary) pairs")
    return pairs


def _strings(value) -> list[str]:
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [v for v in values if isinstance(v, str) and v.strip()]


def _load_jsonl(path: Path) -> list[SummaryPair]:
    pairs = []
    for number, record in iter_jsonl(path):
        document = next((record[k] for k in DOCUMENT_KEYS if k in record), None)
        summaries = next((_strings(record[k]) for k in SUMMARY_KEYS if k in record), [])
        if not isinstance(document, str) or not summaries:
            raise LoadError(path, f'line {number}: needs a "document" (or "text") string and a "summary" string')
        for key in EXTRA_SUMMARY_KEYS:
            summaries += [s for s in _strings(record.get(key)) if s not in summaries]
        if document.strip():
            pid = record.get("id", record.get("doc_id", f"{path.stem}-{number}"))
            pairs.append(SummaryPair(str(pid), document, tuple(summaries)))
    return pairs


def _load_tsv(path: Path) -> list[SummaryPair]:
    pairs = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) not in (2, 3):
            raise LoadError(path, f"line {number}: expected 'document<TAB>summary' (or CSL's 3 columns), "
                                  f"got {len(cols)} columns")
        document, summary = cols[-2].strip(), cols[-1].strip()
        if document and summary:
            pairs.append(SummaryPair(f"{path.stem}-{number}", document, (summary,)))
    return pairs
