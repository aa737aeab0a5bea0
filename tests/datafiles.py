"""The real data files tests read, and a way to cut them small: importable by test modules (a conftest is not)."""

from __future__ import annotations

import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CMRC_DEV = SHARED / "cmrc2018" / "cmrc2018_dev.json"
SQUAD_DEV = SHARED / "expmrc-squad" / "expmrc-squad-dev.json"
DEMO_DATA = Path(__file__).resolve().parents[1] / "ragtune" / "demo" / "data"


def squad_slice(source: Path, target: Path, articles: int) -> Path:
    """The first `articles` articles of a SQuAD-format file, as a new file (ids unchanged)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    data["data"] = data["data"][:articles]
    target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return target

MULTIHOP = SHARED / "multihop"
HOTPOTQA_DEV = MULTIHOP / "hotpotqa-dev-distractor-98.jsonl"
HOTPOTQA_TRAIN = MULTIHOP / "kag-train" / "hotpotqa_qa_train.json"
HOTPOTQA_TRAIN_CORPUS = MULTIHOP / "kag-train" / "hotpotqa_train_corpus.json"
MUSIQUE_TRAIN = MULTIHOP / "kag-train" / "musique_qa_train.json"
MUSIQUE_TRAIN_CORPUS = MULTIHOP / "kag-train" / "musique_train_corpus.json"


def jsonl_head(source: Path, target: Path, lines: int) -> Path:
    """The first `lines` lines of a json-lines file, as a new file."""
    with source.open(encoding="utf-8") as file:
        head = [next(file) for _ in range(lines)]
    target.write_text("".join(head), encoding="utf-8")
    return target

SUMMARIZATION = SHARED / "summarization"
CSL_TITLES = SUMMARIZATION / "csl-title-dev.tsv"
CNNDM_SUMMEVAL = SUMMARIZATION / "cnndm-summeval-100.jsonl"
