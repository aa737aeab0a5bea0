"""The train/test splits the fine-tuning benchmarks share, written as SQuAD-format files.

- cmrc: the first `train_articles` articles of the CMRC 2018 (pseudo) training zip, indexed on their own;
  evaluated on dev questions spread evenly over the file against the open corpus of all dev paragraphs.
- squad: the English SQuAD subset split by article (even = train, odd = test), one index of all paragraphs.
- cmrc-trad: CMRC 2018 dev converted to Traditional Chinese (OpenCC s2twp), split by article like squad: a
  Chinese set held out by article, in the script jieba and the encoder know least.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from common import ROOT, SHARED

TRADITIONAL = ROOT / ".ragtune" / "bench" / "cmrc2018_dev_traditional.json"


def traditional_cmrc_dev() -> Path:
    """CMRC 2018 dev in Traditional characters (Taiwan usage): a stand-in for Traditional corpora such as DRCD."""
    import opencc

    if not TRADITIONAL.exists():
        TRADITIONAL.parent.mkdir(parents=True, exist_ok=True)
        text = (SHARED / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8")
        tmp = TRADITIONAL.with_suffix(".tmp")
        tmp.write_text(opencc.OpenCC("s2twp").convert(text), encoding="utf-8")
        tmp.replace(TRADITIONAL)
    return TRADITIONAL


def with_ids(path: Path) -> dict:
    """The SQuAD file with every paragraph's id explicit (`<stem>-<article>-<paragraph>`), so subsets keep them."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for a, article in enumerate(data["data"]):
        for p, para in enumerate(article["paragraphs"]):
            para.setdefault("id", f"{path.stem}-{a}-{p}")
    return data


def articles(data: dict, keep) -> dict:
    return {"version": data.get("version", ""), "data": [a for i, a in enumerate(data["data"]) if keep(i)]}


def every_nth_question(data: dict, limit: int) -> dict:
    """At most `limit` questions, spread evenly over the file (paragraphs without one kept out)."""
    total = sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])
    step = max(1, total // limit) if limit else 1
    out, i = [], 0
    for article in data["data"]:
        paragraphs = []
        for para in article["paragraphs"]:
            qas = []
            for qa in para["qas"]:
                if i % step == 0 and (not limit or i // step < limit):
                    qas.append(qa)
                i += 1
            if qas:
                paragraphs.append({**para, "qas": qas})
        if paragraphs:
            out.append({**article, "paragraphs": paragraphs})
    return {"version": data.get("version", ""), "data": out}


def write_json(path: Path, data: dict) -> Path:
    """Rewritten only when it changed, and atomically: another bench may be reading the same split."""
    text = json.dumps(data, ensure_ascii=False)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path


def qa_split(name: str, work: Path, train_articles: int, eval_questions: int) -> dict[str, Path]:
    """train.json / test.json under `work`, and the corpus each index reads (train_corpus, eval_corpus)."""
    work.mkdir(parents=True, exist_ok=True)
    if name == "cmrc":
        with zipfile.ZipFile(SHARED / "cmrc2018" / "train-pseudo-cmrc2018.zip") as zf:
            pseudo = json.loads(zf.read("train-pseudo-cmrc2018.json"))
        train = write_json(work / "train.json", articles(pseudo, lambda a: a < train_articles))
        dev = SHARED / "cmrc2018" / "cmrc2018_dev.json"
        test = write_json(work / "test.json", every_nth_question(json.loads(dev.read_text(encoding="utf-8")),
                                                                 eval_questions))
        return {"train": train, "test": test, "train_corpus": train, "eval_corpus": dev}
    if name in ("squad", "cmrc-trad"):
        source = traditional_cmrc_dev() if name == "cmrc-trad" else SHARED / "expmrc-squad" / "expmrc-squad-dev.json"
        full = with_ids(source)
        corpus = write_json(work / "corpus.json", full)
        train = write_json(work / "train.json", articles(full, lambda a: a % 2 == 0))
        test = write_json(work / "test.json",
                          every_nth_question(articles(full, lambda a: a % 2 == 1), eval_questions))
        return {"train": train, "test": test, "train_corpus": corpus, "eval_corpus": corpus}
    raise ValueError(f"unknown set {name!r}")
