"""The train/test splits the fine-tuning benchmarks share, written as SQuAD-format files.

- cmrc: the first `train_articles` articles of the CMRC 2018 (pseudo) training zip, indexed on their own;
  evaluated on dev questions spread evenly over the file against the open corpus of all dev paragraphs.
- squad: the English SQuAD subset split by article (even = train, odd = test), one index of all paragraphs.
- cmrc-trad: CMRC 2018 dev converted to Traditional Chinese (OpenCC s2twp), split by article like squad: a
  Chinese set held out by article, in the script jieba and the encoder know least.
- duie: extractive questions generated from the gold triples of 1,000 DuIE 2.0 sentences (`duie_qa()`), one
  article per sentence; written to .ragtune/bench/ at bench time (research-use-only licence: never committed).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

from .common import ROOT, SHARED

TRADITIONAL = ROOT / ".ragtune" / "bench" / "cmrc2018_dev_traditional.json"
DUIE = SHARED / "kg" / "duie2-dev-1000.jsonl"
DUIE_QA = ROOT / ".ragtune" / "bench" / "duie_qa.json"

#: set -> (corpus read, questions, split) of the retrieval benchmarks (retrieval_quality, rerank_latency,
#: rerank_gate)
RETRIEVAL_SETS = {
    "scifact": (SHARED / "scifact", SHARED / "scifact", "train"),
    "cmrc": (SHARED / "cmrc2018" / "cmrc2018_dev.json", SHARED / "cmrc2018" / "cmrc2018_dev.json", None),
    "cmrc-trad": (TRADITIONAL, TRADITIONAL, None),
    "squad": (SHARED / "expmrc-squad" / "expmrc-squad-dev.json", SHARED / "expmrc-squad" / "expmrc-squad-dev.json",
              None),
}


def retrieval_index(name: str, embedder: str, script: str) -> Path:
    """Where the retrieval benchmarks keep the index of set `name` built with `embedder` and `index.script`."""
    return ROOT / ".ragtune" / "bench" / f"{name}-{embedder}-{script}"


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


# DuIE 2.0 predicate -> (question template, cue or None), in order of preference when a sentence offers more
# questions than DUIE_PER_SENTENCE. {s} is the subject, {w} the work an 饰演/配音 triple names (inWork), {cue} the
# cue's match nearest the answer. A cue is a regex the sentence must match ({o} stands for the answer): it keeps
# out triples the annotators inferred from elsewhere (a 导演 the sentence only names as an actor, a 国籍 read off
# "中国人民大学"). Dropped: 主演 / 嘉宾 / 主持人 / 获奖 (one of several, and the sentence often lists more than the
# triples do), 票房 (wrong or daily figures, time- and region-dependent), 主角 and 官方语言 (not stated in the
# sentences), 邮政编码 / 专业代码 / 修业年限 (none in the file).
DUIE_TEMPLATES = {
    "作者": ("{s}的作者是谁？", None),
    "导演": ("{s}的导演是谁？", r"导演|执导|导"),
    "歌手": ("{s}是谁演唱的？", r"唱|歌手"),
    "作词": ("{s}的词作者是谁？", r"词"),
    "作曲": ("{s}的曲作者是谁？", r"曲"),
    "编剧": ("{s}的编剧是谁？", r"编剧|剧本"),
    "所属专辑": ("{s}收录在哪张专辑里？", r"专辑"),
    "改编自": ("{s}改编自哪部作品？", r"改编|取材|根据|基于"),
    "主题曲": ("{s}的{cue}是哪首歌？", r"主题曲|片尾曲|片头曲|插曲"),
    "出品公司": ("{s}是由哪家公司出品的？", r"{o}[^、，,。]{0,6}出品"),
    "制片人": ("{s}的制片人是谁？", r"制片"),
    "饰演": ("{s}在{w}中饰演哪个角色？", r"饰|演"),
    "配音": ("{s}在{w}中为哪个角色配音？", r"配音|声优|CV|cv"),
    "丈夫": ("{s}的丈夫是谁？", None),
    "妻子": ("{s}的妻子是谁？", None),
    "父亲": ("{s}的父亲是谁？", None),
    "母亲": ("{s}的母亲是谁？", None),
    "毕业院校": ("{s}毕业于哪所学校？", None),
    "祖籍": ("{s}的祖籍是哪里？", r"祖籍"),
    "号": ("{s}号什么？", r"号"),
    "朝代": ("{s}是哪个朝代的人？", None),
    "成立日期": ("{s}是什么时候成立的？", r"成立|创立|创建|创办|始建|始创|建立|组建|登记|注册|起家"),
    "创始人": ("{s}的创始人是谁？", r"创|建立|成立"),
    "董事长": ("{s}的董事长是谁？", r"董事长"),
    "总部地点": ("{s}的总部在哪里？", r"总部"),
    "注册资本": ("{s}的注册资本是多少？", r"注册"),
    "简称": ("{s}的简称是什么？", None),
    "校长": ("{s}的校长是谁？", r"校长"),
    "上映时间": ("{s}是什么时候{cue}的？", r"上映|首映|公映|首播|开播|播出"),
    "首都": ("{s}的首都是哪里？", r"首都"),
    "气候": ("{s}属于什么气候？", r"气候"),
    "面积": ("{s}的面积是多少？", r"面积"),
    "占地面积": ("{s}的占地面积是多少？", r"占地"),
    "人口数量": ("{s}的人口有多少？", r"人口"),
    "海拔": ("{s}的海拔是多少？", r"海拔"),
    "所在城市": ("{s}位于哪个城市？", None),
    "代言人": ("{s}的代言人是谁？", r"代言"),
    "国籍": ("{s}的国籍是什么？",
             r"国籍[:：]?{o}|{o}(国?籍|人(?!民)|艺人|演员|女演员|男演员|影视|歌手|女歌手|男歌手|选手|球员|足球|运动员|"
             r"高尔夫|著名|作家|科学家|总统|前首相|首相)"),
}
# the cue word itself only once in the sentence: a show has several 插曲
DUIE_ONE_CUE = {"主题曲"}
# annotation errors found reading the questions: (line, subject, predicate)
DUIE_WRONG = {
    (236, "希特勒男孩", "导演"),  # the sentence lists three films, then their directors in order: 丹尼斯·甘塞尔
    (365, "碧血蓝天", "上映时间"),  # the 2004 in the sentence is 《神医侠侣》's
    (634, "贾政", "妻子"),  # the sentence itself says 贾政的妻子是王夫人 (赵姨娘 is a concubine)
}
# subject types named in 《》 in a question
DUIE_WORKS = {"图书作品", "影视作品", "歌曲", "电视综艺", "文学作品", "音乐专辑", "作品"}
# predicates whose objects come in lists ("黄文利和张景坤执导"): an answer next to a list separator is one of several
DUIE_LISTED = {"作者", "导演", "歌手", "作词", "作曲", "编剧", "出品公司", "制片人", "创始人"}
DUIE_SEPARATORS = "、/和与及&,"
DUIE_PER_SENTENCE = 2


def _truncated(pair: str) -> bool:
    """An answer boundary inside a word: "爱默生|·艾格里奇", "Vin'Selection|1"."""
    return "·" in pair or (len(pair) == 2 and pair.isascii() and pair.isalnum())


def _doubled(subject: str) -> bool:
    """A long name the sentence repeats back to back ("某某集团有限公司某某集团有限公司"): the question would read as a
    typo. Short ones are real names (TOTO, 正正, 《舒服舒服》)."""
    half = len(subject) // 2
    return half >= 6 and subject[:half] == subject[half:]


def _duie_questions(line: int, text: str, spo_list: list[dict], unique: set[tuple[str, str]]) -> list[dict]:
    """At most DUIE_PER_SENTENCE SQuAD questions from one sentence's triples, best predicate first."""
    candidates = []
    for spo in spo_list:
        subject, predicate, obj = spo["subject"], spo["predicate"], spo["object"]
        answer = obj["@value"]
        if (predicate not in DUIE_TEMPLATES or (subject, predicate) not in unique or not answer or not subject
                or (line, subject, predicate) in DUIE_WRONG or _doubled(subject)
                or subject.count("《") != subject.count("》")):
            continue
        template, cue = DUIE_TEMPLATES[predicate]
        start = text.find(answer)
        # the answer verbatim, exactly once (so answer_start is the span); the subject verbatim, not the answer
        if subject not in text or start < 0 or text.find(answer, start + 1) >= 0 or answer in subject:
            continue
        before, after = text[start - 1:start], text[start + len(answer):start + len(answer) + 1]
        if _truncated(before + answer[0]) or _truncated(answer[-1] + after):
            continue
        if predicate in DUIE_LISTED and any(c in DUIE_SEPARATORS for c in before + after):
            continue
        fill = {"s": f"《{subject}》" if spo["subject_type"] in DUIE_WORKS else subject}
        if "{w}" in template:
            work = obj.get("inWork", "")
            if not work or work not in text:
                continue
            fill["w"] = f"《{work}》"
        if cue:
            matches = list(re.finditer(cue.replace("{o}", re.escape(answer)), text))
            if not matches:
                continue
            fill["cue"] = min(matches, key=lambda m: abs(m.start() - start)).group()
            if predicate in DUIE_ONE_CUE and text.count(fill["cue"]) > 1:
                continue
        question = template.format(**fill)
        if answer in question:
            continue
        candidates.append((list(DUIE_TEMPLATES).index(predicate), start, subject, predicate, question, answer))
    chosen: list[tuple] = []
    for rank, start, subject, predicate, question, answer in sorted(candidates):
        # distinct answers, and not the same fact asked both ways (A 的丈夫 / B 的妻子)
        if any(answer == c[5] or (answer == c[2] and subject == c[5]) or question == c[4] for c in chosen):
            continue
        chosen.append((rank, start, subject, predicate, question, answer))
        if len(chosen) == DUIE_PER_SENTENCE:
            break
    return [{"id": f"duie-{line}-{k}", "question": question, "predicate": predicate,
             "answers": [{"text": answer, "answer_start": start}]}
            for k, (_, start, _, predicate, question, answer) in enumerate(chosen)]


def duie_qa() -> Path:
    """SQuAD-format extractive questions from the gold triples of 1,000 DuIE 2.0 sentences: a second Chinese QA set
    from text other than CMRC's Wikipedia paragraphs (news, forums, encyclopedia boxes), with short entity answers.

    One article per sentence, its paragraph's id `duie-<line>` (1-based line of the jsonl); questions from one
    hand-written template per predicate (DUIE_TEMPLATES), kept only when the question has exactly one right answer:
    subject and answer verbatim in the sentence, the answer exactly once, the (subject, predicate) pair annotated in
    this sentence only and with one object, the answer not inside the subject. Deterministic (no sampling). Written
    under .ragtune/bench/ at bench time and never committed: DuIE is licensed for research use only.
    """
    lines = DUIE.read_text(encoding="utf-8").splitlines()
    rows = {number: json.loads(line) for number, line in enumerate(lines, 1) if line.strip()}
    objects: dict[tuple[str, str], set[str]] = {}
    sentences: dict[tuple[str, str], set[int]] = {}
    for number, row in rows.items():
        for spo in row["spo_list"]:
            key = (spo["subject"], spo["predicate"])
            objects.setdefault(key, set()).add(spo["object"]["@value"])
            sentences.setdefault(key, set()).add(number)
    unique = {key for key in objects if len(objects[key]) == 1 and len(sentences[key]) == 1}
    data = [{"title": "", "paragraphs": [{"id": f"duie-{number}", "context": row["text"],
                                          "qas": _duie_questions(number, row["text"], row["spo_list"], unique)}]}
            for number, row in rows.items()]
    DUIE_QA.parent.mkdir(parents=True, exist_ok=True)
    return write_json(DUIE_QA, {"version": "duie2-dev-1000-qa", "data": data})
