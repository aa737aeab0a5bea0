"""A hostile corpus, generated at test time, and the rules its outcomes are judged by (issue 19).

Every case is a few real command lines (`ragtune ...`, or a library probe in probes.py for what has no fast CLI
path) run as subprocesses with a timeout. Each ends in one of:

- clean: exit 0, nothing on stderr but progress lines (or the skip lines the case allows);
- one-line error: the expected exit code and exactly one stderr line per bad input, naming it;
- hang: still running at the timeout (60 s; 300 s for the slow cases, 10 MB of text to embed; killed);
- traceback: a Python traceback in the output;
- crash: killed by a signal (segfault, out of memory);
- wrong: anything else: several lines for one error, a wrong exit code, raw control characters printed, or a
  failed check of the result (passages doubled, a pickle executed, text mis-decoded).

`make_hostile_corpus(root)` writes every case's files under `root`; tests/robustness/test_hostile_corpus.py runs
each case and bench/robustness.py counts the outcomes for BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from made_files import minimal_pdf, pdf_file  # tests/ is on the path: pytest's rootdir conftest, or the bench

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "ragtune.cli"]
PROBE = [sys.executable, str(Path(__file__).with_name("probes.py"))]
#: seconds a step may run before it counts as hung (the first read of a process loads the embedder)
TIMEOUT = float(os.environ.get("RAGTUNE_HOSTILE_TIMEOUT", "60"))
#: slow cases are big legitimate work (a 10 MB text is thousands of passages to embed): at least this long
SLOW_TIMEOUT = 300.0
#: address space of each step: a blow-up becomes that step's MemoryError, not the machine's out-of-memory killer
MEMORY_BYTES = int(float(os.environ.get("RAGTUNE_HOSTILE_MEMORY_GB", "6")) * 2**30)

CLEAN, ERROR, HANG, TRACEBACK, CRASH, WRONG = "clean", "one-line error", "hang", "traceback", "crash", "wrong"
OUTCOMES = (CLEAN, ERROR, HANG, TRACEBACK, CRASH, WRONG)
_SEVERITY = {CLEAN: 0, ERROR: 1, WRONG: 2, CRASH: 3, TRACEBACK: 4, HANG: 5}
#: LogBar progress lines (ragtune/progress.py): `desc: 3/10 file (30%) in 00:02, ...`
_PROGRESS = re.compile(r": \d+(/\d+)? \S+( \(\d+%\))? in (\d+:)?\d\d:\d\d")
#: what must never reach a terminal raw: C0 controls but tab and newline, DEL, C1 controls (CSI, NEL, ...)
_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_PASSAGES = re.compile(r"passages \+\d+ -\d+ = (\d+) in ")


@dataclass
class Step:
    """One command line and what it must end in.

    expect: "ok" (exit 0), "error" (exit 1, one stderr line per name in `names`), "either" (ok or error) or
    "usage" (exit 2, one line). `names` are ASCII fragments of the bad inputs' names an error line must carry;
    for "ok" they are inputs a skip line may name.
    """

    args: list[str]
    expect: str = "ok"
    names: tuple[str, ...] = ()
    probe: bool = False


@dataclass
class Outcome:
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float

    @property
    def passages(self) -> int | None:
        """The index's passage count a `read` printed."""
        found = _PASSAGES.search(self.stdout)
        return int(found.group(1)) if found else None


@dataclass
class HostileCase:
    """What one hostile input is, how to feed it, and an optional check of the result (None: fine)."""

    name: str
    attack: str
    steps: list[Step]
    check: Callable[[list[Outcome]], str | None] | None = None
    slow: bool = False
    root: Path = field(default_factory=Path)


@dataclass
class Verdict:
    case: str
    outcome: str
    problem: str
    seconds: float
    outcomes: list[Outcome]


# ---- running and judging ----------------------------------------------------------------------------------


def cli_env() -> dict[str, str]:
    """This checkout's ragtune first on the path, and no forced colours: escapes in the output come from data."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def limit_memory() -> None:
    """In the child before exec: cap its address space at MEMORY_BYTES."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run_step(step: Step, cwd: Path, timeout: float = TIMEOUT) -> Outcome:
    """Run one step in its own process group (killed whole on a timeout); returncode None: it hung."""
    start = time.perf_counter()
    proc = subprocess.Popen([*(PROBE if step.probe else CLI), *map(str, step.args)], cwd=cwd, env=cli_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=limit_memory)
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    decode = lambda b: b.decode("utf-8", errors="backslashreplace")  # noqa: E731
    return Outcome(code, decode(out), decode(err), time.perf_counter() - start)


def judge_step(step: Step, result: Outcome) -> tuple[str, str]:
    """(outcome, problem) of one finished step against what it expects."""
    if result.returncode is None:
        return HANG, f"still running after {result.seconds:.0f}s"
    text = result.stdout + result.stderr
    if "Traceback (most recent call last)" in text:
        return TRACEBACK, _last_line(result.stderr)
    if result.returncode < 0:
        return CRASH, f"killed by signal {-result.returncode}"
    if raw := _RAW_CONTROL.findall(text):
        return WRONG, f"printed raw control characters {sorted(set(raw))!r}"
    lines = [line for line in result.stderr.splitlines() if line.strip() and not _PROGRESS.search(line)]
    expect = step.expect
    if expect == "either":
        expect = "ok" if result.returncode == 0 else "error"
    if expect == "ok":
        if result.returncode != 0:
            return WRONG, f"exit {result.returncode}: {_last_line(result.stderr)}"
        stray = [line for line in lines if not any(name in line for name in step.names)]
        if stray or len(lines) > len(step.names):
            return WRONG, f"unexpected stderr lines: {(stray or lines)[:3]!r}"
        return CLEAN, ""
    want_code, want_lines = (2, 1) if expect == "usage" else (1, max(1, len(step.names)))
    if result.returncode != want_code:
        return WRONG, f"exit {result.returncode}, not {want_code}: {_last_line(text)}"
    if len(lines) != want_lines:
        return WRONG, f"{len(lines)} stderr lines, not {want_lines}: {lines[:4]!r}"
    unnamed = [name for name in step.names if not any(name in line for line in lines)]
    if unnamed:
        return WRONG, f"error does not name {unnamed}: {lines!r}"
    return ERROR, ""


def run_case(case: HostileCase, timeout: float = TIMEOUT) -> Verdict:
    """Run a case's steps in order (stopping at the first hang) and judge the whole: its worst step, then
    its check."""
    outcomes: list[Outcome] = []
    worst, problem = CLEAN, ""
    for step in case.steps:
        result = run_step(step, case.root, max(timeout, SLOW_TIMEOUT) if case.slow else timeout)
        outcomes.append(result)
        outcome, why = judge_step(step, result)
        if _SEVERITY[outcome] > _SEVERITY[worst]:
            worst, problem = outcome, why
        if outcome == HANG:
            break
    if worst in (CLEAN, ERROR) and case.check is not None:
        try:
            failed = case.check(outcomes)
        except Exception as exc:  # the result could not even be inspected (an index that does not load)
            failed = f"check failed: {type(exc).__name__}: {exc}"
        if failed:
            worst, problem = WRONG, failed
    return Verdict(case.name, worst, problem, sum(o.seconds for o in outcomes), outcomes)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


# ---- the corpus --------------------------------------------------------------------------------------------

#: name -> (builder, slow); a builder writes its files under its own folder and returns the case
BUILDERS: dict[str, tuple[Callable[[Path], HostileCase], bool]] = {}


def case(slow: bool = False):
    def register(build: Callable[[Path], HostileCase]) -> Callable[[Path], HostileCase]:
        BUILDERS[build.__name__] = (build, slow)
        return build

    return register


def build_case(name: str, root: Path) -> HostileCase:
    """Write one case's files into a new folder `root/name` and return it."""
    build, slow = BUILDERS[name]
    folder = Path(root) / name
    folder.mkdir(parents=True)
    made = build(folder)
    made.name, made.slow, made.root = name, slow, folder
    made.attack = made.attack or (build.__doc__ or "").strip()
    return made


def make_hostile_corpus(root: Path, slow: bool = True) -> list[HostileCase]:
    """Every hostile case (without the slow ones when `slow` is False), files written under `root`."""
    return [build_case(name, root) for name, (_, is_slow) in BUILDERS.items() if slow or not is_slow]


GOOD_TEXT = ("The lighthouse keeper climbed the spiral stairs every evening at dusk. He trimmed the wick, "
             "wound the clockwork that turned the lens, and wrote the weather in a leather logbook.\n")


def _read(index: Path, *paths, expect: str = "ok", names: tuple[str, ...] = (), config: Path | None = None
          ) -> Step:
    extra = ["--config", str(config)] if config else []
    return Step(["read", "--index", str(index), *extra, *map(str, paths)], expect, names)


def _bad_file(folder: Path, filename: str, data: bytes | str, expect: str = "error", max_passages: int | None = None
              ) -> HostileCase:
    """A single input file read on its own; `filename`'s stem is what the error line must name.

    `max_passages` caps read.max_passages_per_file: the file is still parsed whole (the cost under test), but
    not embedded passage by passage (the embedder's speed is not what such a case measures)."""
    path = folder / filename
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    config = None
    if max_passages is not None:
        config = folder / "few-passages.yaml"
        config.write_text(f"read:\n  max_passages_per_file: {max_passages}\n")
    return HostileCase("", "", [_read(folder / "index", path, expect=expect, names=(Path(filename).stem,),
                                      config=config)])


def _zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'wordprocessingml.document.main+xml"/></Types>')
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="word/document.xml"/></Relationships>')
_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _docx(path: Path, body: bytes, doctype: bytes = b"") -> Path:
    """A minimal Word package whose document.xml holds `body` (written by hand: python-docx would not write
    what an attacker writes)."""
    document = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + doctype
                + b"<w:document " + _W + b"><w:body>" + body + b"</w:body></w:document>")
    return _zip(path, {"[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _RELS, "word/document.xml": document})


def _stored_texts(index: Path) -> list[str]:
    from ragtune.index.backends import open_index

    return [p.text for p in open_index(index).passages]


def _same_passages(outcomes: list[Outcome]) -> str | None:
    counts = [o.passages for o in outcomes]
    return None if counts[0] and len(set(counts)) == 1 else f"passage counts {counts}, expected all equal"


# -- where the files are: the index, special files, links, the command line --


@case()
def index_inside_folder(folder: Path) -> HostileCase:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "keeper.txt").write_text(GOOD_TEXT)
    index = docs / "index"
    return HostileCase("", "the index folder inside the folder being read, read twice: it must not read itself",
                       [_read(index, docs, names=("docs/index",)), _read(index, docs, names=("docs/index",))],
                       _same_passages)


@case()
def fifo(folder: Path) -> HostileCase:
    os.mkfifo(folder / "fifo-pipe.txt")
    return HostileCase("", "a named pipe (FIFO) given as a file: opening it blocks forever",
                       [_read(folder / "index", folder / "fifo-pipe.txt", expect="error", names=("fifo-pipe",))])


@case()
def fifo_in_folder(folder: Path) -> HostileCase:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "keeper.txt").write_text(GOOD_TEXT)
    os.mkfifo(docs / "fifo-pipe.txt")
    return HostileCase("", "a FIFO beside a good file in a folder: the good file is read, the FIFO skipped",
                       [_read(folder / "index", docs, names=("fifo-pipe",))], lambda o: _positive(o[-1]))


@case()
def socket_file(folder: Path) -> HostileCase:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "unix-sock.txt"))
    sock.close()
    return HostileCase("", "a Unix socket named like a text file",
                       [_read(folder / "index", folder / "unix-sock.txt", expect="error", names=("unix-sock",))])


@case()
def dev_zero_link(folder: Path) -> HostileCase:
    (folder / "zero-link.txt").symlink_to("/dev/zero")
    return HostileCase("", "a symlink to /dev/zero: endless bytes",
                       [_read(folder / "index", folder / "zero-link.txt", expect="error", names=("zero-link",))])


@case()
def dev_zero_link_in_folder(folder: Path) -> HostileCase:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "keeper.txt").write_text(GOOD_TEXT)
    (docs / "zero-link.txt").symlink_to("/dev/zero")
    return HostileCase("", "a symlink to /dev/zero inside a folder being read",
                       [_read(folder / "index", docs, names=("zero-link",))], lambda o: _positive(o[-1]))


@case()
def symlink_loop_dir(folder: Path) -> HostileCase:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "keeper.txt").write_text(GOOD_TEXT)
    (docs / "loop-back").symlink_to(docs, target_is_directory=True)
    (docs / "loop-up").symlink_to("..", target_is_directory=True)
    return HostileCase("", "directory symlinks pointing at the folder itself and at its parent",
                       [_read(folder / "index", docs, names=("loop-back", "loop-up"))], lambda o: _positive(o[-1]))


@case()
def symlink_loop_file(folder: Path) -> HostileCase:
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    return HostileCase("", "two file symlinks pointing at each other",
                       [_read(folder / "index", folder / "loop-a.txt", expect="error", names=("loop-a",))])


@case()
def same_file_twice(folder: Path) -> HostileCase:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "keeper.txt").write_text(GOOD_TEXT * 20)
    (docs / "alias.txt").symlink_to(docs / "keeper.txt")
    once = _read(folder / "once", docs / "keeper.txt")
    many = _read(folder / "many", docs / "keeper.txt", docs / "keeper.txt", "docs/./keeper.txt", docs / "alias.txt",
                 names=("keeper", "keeper", "alias"))  # a note per repeat is fine, so is silence
    return HostileCase("", "one file named several times (the same path twice, a ./ spelling, a symlink): "
                       "its passages must not be doubled", [once, many], _same_passages)


@case()
def same_folder_and_file(folder: Path) -> HostileCase:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "keeper.txt").write_text(GOOD_TEXT * 20)
    return HostileCase("", "a folder and a file inside it on one command line",
                       [_read(folder / "once", docs),
                        _read(folder / "many", docs, docs / "keeper.txt", docs, names=("keeper", "docs"))],
                       _same_passages)


@case()
def leading_dash_names(folder: Path) -> HostileCase:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "-rf.txt").write_text(GOOD_TEXT)
    (docs / "--help.md").write_text("# Dashes\n\n" + GOOD_TEXT)
    (folder / "-x.txt").write_text(GOOD_TEXT)
    return HostileCase("", "files named like options (-rf.txt, --help.md), in a folder and after --",
                       [_read(folder / "index", docs), Step(["read", "--index", str(folder / "index2"), "--",
                                                              "-x.txt"])], lambda o: _positive(o[-1]))


@case()
def deep_directories(folder: Path) -> HostileCase:
    deep = folder / "docs"
    for depth in range(200):
        deep = deep / f"d{depth}"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text(GOOD_TEXT)
    return HostileCase("", "a file 200 folders deep", [_read(folder / "index", folder / "docs")],
                       lambda o: _positive(o[-1]))


@case()
def index_is_a_file(folder: Path) -> HostileCase:
    (folder / "keeper.txt").write_text(GOOD_TEXT)
    (folder / "not-an-index").write_text("my notes\n")
    return HostileCase("", "--index names an existing regular file",
                       [_read(folder / "not-an-index", folder / "keeper.txt", expect="error",
                              names=("not-an-index",))],
                       lambda o: None if (folder / "not-an-index").read_text() == "my notes\n" else "file changed")


@case()
def index_in_user_folder(folder: Path) -> HostileCase:
    (folder / "keeper.txt").write_text(GOOD_TEXT)
    home = folder / "my-documents"
    home.mkdir()
    (home / "letter.txt").write_text("Dear friend,\n")
    before = sorted(p.name for p in home.iterdir())
    return HostileCase("", "--index names a folder of the user's own files, not an index",
                       [_read(home, folder / "keeper.txt", expect="error", names=("my-documents",))],
                       lambda o: None if sorted(p.name for p in home.iterdir()) == before else
                       f"wrote into the user's folder: {sorted(p.name for p in home.iterdir())}")


# -- names --


@case()
def name_with_newline(folder: Path) -> HostileCase:
    (folder / "nl-name\nsecond line.txt").write_text(GOOD_TEXT)
    return HostileCase("", "a file name with a newline in it (readable content)",
                       [_read(folder / "index", folder / "nl-name\nsecond line.txt")], lambda o: _positive(o[-1]))


@case()
def name_with_newline_empty(folder: Path) -> HostileCase:
    (folder / "nl-empty\nskipped fake.txt").write_text("")
    return HostileCase("", "an empty file whose name has a newline: its error must stay one line",
                       [_read(folder / "index", folder / "nl-empty\nskipped fake.txt", expect="error",
                              names=("nl-empty",))])


@case()
def name_with_control_chars(folder: Path) -> HostileCase:
    name = "ctl-name\x1b[31m\x07\x9b2J\r.txt"
    (folder / name).write_text("")
    return HostileCase("", "an empty file whose name holds ESC, BEL, CR and C1 CSI: none may reach the terminal",
                       [_read(folder / "index", folder / name, expect="error", names=("ctl-name",))])


@case()
def name_with_control_chars_readable(folder: Path) -> HostileCase:
    name = "ctl-ok\x1b]0;pwned\x07\x9b.txt"
    (folder / name).write_text(GOOD_TEXT)
    return HostileCase("", "a readable file whose name holds terminal escapes",
                       [_read(folder / "index", folder / name)], lambda o: _positive(o[-1]))


@case()
def name_with_rich_markup(folder: Path) -> HostileCase:
    name = "markup-name[bold red]x[link=http:evil]y.txt"  # no "/" in a file name: tags that style, not crash
    (folder / name).write_text("")
    return HostileCase("", "an empty file whose name is Rich console markup: shown as it is, not restyled",
                       [_read(folder / "index", folder / name, expect="error", names=(name,))])


@case()
def name_not_utf8(folder: Path) -> HostileCase:
    name = os.fsdecode(b"latin-name-caf\xe9.txt")
    (folder / name).write_text(GOOD_TEXT)
    return HostileCase("", "a file name that is not UTF-8 (a Latin-1 byte): it must be read or refused in one line",
                       [_read(folder / "index", folder / name, expect="either", names=("latin-name",))])


# -- DOCX --


@case()
def docx_random_bytes(folder: Path) -> HostileCase:
    """random bytes named .docx"""
    return _bad_file(folder, "random-bytes.docx", random.Random(19).randbytes(4096))


@case()
def docx_without_document(folder: Path) -> HostileCase:
    _zip(folder / "no-document.docx", {"[Content_Types].xml": _CONTENT_TYPES, "hello.txt": b"hi"})
    return HostileCase("", "a zip without word/document.xml",
                       [_read(folder / "index", folder / "no-document.docx", expect="error", names=("no-document",))])


@case()
def docx_encrypted(folder: Path) -> HostileCase:
    """an encrypted Office file (an OLE compound file, not a zip) named .docx"""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted Office file is an OLE compound file
    return _bad_file(folder, "encrypted-ole.docx", header + random.Random(7).randbytes(8192))


@case()
def docx_empty_paragraphs(folder: Path) -> HostileCase:
    _docx(folder / "two-million-paragraphs.docx", b"<w:p/>" * 2_000_000)
    return HostileCase("", "a DOCX of 2 million empty paragraphs (12 MB of XML, a few KB zipped)",
                       [_read(folder / "index", folder / "two-million-paragraphs.docx", expect="error",
                              names=("two-million-paragraphs",))])


@case()
def docx_zip_bomb(folder: Path) -> HostileCase:
    path = folder / "zip-bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(b"<w:document " + _W + b"><w:body><w:p><w:r><w:t>")
            block = b" " * (1 << 20)
            for _ in range(300):
                fh.write(block)
            fh.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return HostileCase("", "a DOCX zip bomb: 300 MB of document.xml in a few hundred KB",
                       [_read(folder / "index", path, expect="error", names=("zip-bomb",))])


@case()
def docx_billion_laughs(folder: Path) -> HostileCase:
    entities = [b'<!ENTITY a0 "lol lol lol lol lol lol lol lol lol lol ">']
    entities += [b"<!ENTITY a%d \"%s\">" % (i, b"".join(b"&a%d;" % (i - 1) for _ in range(10))) for i in range(1, 10)]
    doctype = b"<!DOCTYPE w:document [" + b"".join(entities) + b"]>"
    _docx(folder / "laughs.docx", b"<w:p><w:r><w:t>&a9;</w:t></w:r></w:p>", doctype)
    return HostileCase("", "billion laughs: nested XML entities in document.xml",
                       [_read(folder / "index", folder / "laughs.docx", expect="either", names=("laughs",))],
                       lambda o: _small_index(folder / "index", o[-1]))


@case()
def docx_external_entity(folder: Path) -> HostileCase:
    secret = folder / "secret.txt"
    secret.write_text("TOPSECRET-XXE-4711\n")
    doctype = b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://' + str(secret).encode() + b'">]>'
    _docx(folder / "xxe.docx", b"<w:p><w:r><w:t>Visible words. &xxe;</w:t></w:r></w:p>", doctype)

    def no_secret(outcomes: list[Outcome]) -> str | None:
        if outcomes[-1].returncode != 0:
            return None
        leaked = [t for t in _stored_texts(folder / "index") if "TOPSECRET" in t]
        return f"external entity resolved into the index: {leaked[0][:80]!r}" if leaked else None

    return HostileCase("", "XXE: document.xml pulls a local file in through an external entity",
                       [_read(folder / "index", folder / "xxe.docx", expect="either", names=("xxe",))], no_secret)


# -- SQuAD / BEIR / jsonl / JSON --


@case()
def squad_paragraphs_null(folder: Path) -> HostileCase:
    """SQuAD json with "paragraphs": null"""
    return _bad_file(folder, "paragraphs-null.json", json.dumps({"data": [{"title": "t", "paragraphs": None}]}))


@case()
def squad_data_null(folder: Path) -> HostileCase:
    """SQuAD json with "data": null"""
    return _bad_file(folder, "data-null.json", json.dumps({"version": "1", "data": None}))


@case()
def squad_top_level_list(folder: Path) -> HostileCase:
    """a .json whose top level is a list"""
    return _bad_file(folder, "top-list.json", json.dumps([{"paragraphs": [{"context": "x"}]}]))


@case()
def squad_shapes(folder: Path) -> HostileCase:
    """SQuAD json with a non-string context, a string and a null for paragraphs, an object title"""
    data = {"data": [{"title": {"nested": True}, "paragraphs": [{"context": 5, "qas": None}, "a string", None]}]}
    return _bad_file(folder, "odd-shapes.json", json.dumps(data))


@case()
def squad_passage_flood(folder: Path) -> HostileCase:
    """SQuAD json of 300,000 one-word paragraphs: more passages than read.max_passages_per_file"""
    paragraphs = [{"context": f"p{n}"} for n in range(300_000)]  # past read.max_passages_per_file (200,000)
    return _bad_file(folder, "passage-flood.json", json.dumps({"data": [{"title": "t", "paragraphs": paragraphs}]}))


@case()
def squad_huge_integer(folder: Path) -> HostileCase:
    """SQuAD json with a 100,000-digit integer id (past Python's int-to-str digit limit)"""
    body = '{"data": [{"title": "t", "paragraphs": [{"id": ' + "9" * 100_000 + ', "context": "Digits."}]}]}'
    return _bad_file(folder, "huge-int.json", body, expect="either")


@case()
def json_deep_nesting(folder: Path) -> HostileCase:
    """a .json of 100,000 nested brackets"""
    return _bad_file(folder, "deep-nesting.json", "[" * 100_000 + "]" * 100_000)


@case()
def json_deep_nesting_object(folder: Path) -> HostileCase:
    """SQuAD-looking json whose data is 100,000 nested objects"""
    return _bad_file(folder, "deep-object.json", '{"data": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001)


@case()
def jsonl_deep_nesting(folder: Path) -> HostileCase:
    """a .jsonl whose second line is 100,000 nested brackets"""
    return _bad_file(folder, "deep-line.jsonl", '{"id": "1", "text": "ok"}\n' + "[" * 100_000 + "]" * 100_000)


@case()
def jsonl_not_objects(folder: Path) -> HostileCase:
    """a .jsonl of lines that are JSON but not objects"""
    return _bad_file(folder, "not-objects.jsonl", '[1, 2]\n"text"\nnull\n')


@case()
def jsonl_wrong_types(folder: Path) -> HostileCase:
    """a .jsonl whose ids are an object and a list and whose texts are null and a number"""
    lines = [{"id": {"x": 1}, "text": "An id that is an object."}, {"id": "2", "text": None}, {"_id": [], "text": 3}]
    return _bad_file(folder, "wrong-types.jsonl", "\n".join(json.dumps(x) for x in lines), expect="either")


@case()
def jsonl_torn_line(folder: Path) -> HostileCase:
    """a .jsonl whose last line is torn off mid-string"""
    body = json.dumps({"id": "1", "text": GOOD_TEXT}) + "\n" + '{"id": "2", "text": "The keeper wr'
    return _bad_file(folder, "torn-line.jsonl", body, expect="either")


@case()
def beir_corpus_broken(folder: Path) -> HostileCase:
    beir = folder / "beir-set"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": null, "text": "x"}\n{"_id": "d2"')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "what?"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\n")
    return HostileCase("", "a BEIR folder whose corpus.jsonl has a null id and a torn line",
                       [_read(folder / "index", beir, expect="error", names=("corpus",))])


# -- encodings, text, markup --


@case()
def invalid_utf8_text(folder: Path) -> HostileCase:
    """a .txt of random bytes (no NUL): invalid UTF-8"""
    data = bytes(b for b in random.Random(3).randbytes(6000) if b >= 0x20) or b"\xff"
    return _bad_file(folder, "invalid-utf8.txt", data, expect="either")


@case()
def invalid_utf8_json(folder: Path) -> HostileCase:
    """a .json with invalid UTF-8 bytes"""
    return _bad_file(folder, "invalid-utf8.json", b'{"data": [{"title": "\xff\xfe\xc3", "paragraphs": []}]}')


@case()
def invalid_utf8_jsonl(folder: Path) -> HostileCase:
    """a .jsonl with a Latin-1 byte and invalid UTF-8 in a line"""
    return _bad_file(folder, "invalid-utf8.jsonl", b'{"id": "1", "text": "caf\xe9 \xff\xfe broken"}\n',
                     expect="either")


@case()
def latin1_short(folder: Path) -> HostileCase:
    (folder / "latin-short.txt").write_bytes(b"caf\xe9 cr\xe8me br\xfbl\xe9e")

    def decoded(outcomes: list[Outcome]) -> str | None:
        texts = _stored_texts(folder / "index")
        return None if texts == ["café crème brûlée"] else f"stored {texts!r}, not ['café crème brûlée']"

    return HostileCase("", "a short Latin-1 file: must read as cp1252, not as mojibake",
                       [_read(folder / "index", folder / "latin-short.txt")], decoded)


@case()
def empty_txt(folder: Path) -> HostileCase:
    """a zero-byte .txt"""
    return _bad_file(folder, "empty-text.txt", b"")


@case()
def empty_markdown(folder: Path) -> HostileCase:
    """a whitespace-only .md"""
    return _bad_file(folder, "empty-markdown.md", b"   \n\n\t\n")


@case()
def empty_html(folder: Path) -> HostileCase:
    """a zero-byte .html"""
    return _bad_file(folder, "empty-page.html", b"")


@case()
def empty_json(folder: Path) -> HostileCase:
    """a zero-byte .json"""
    return _bad_file(folder, "empty-squad.json", b"")


@case()
def empty_jsonl(folder: Path) -> HostileCase:
    """a .jsonl of blank lines"""
    return _bad_file(folder, "empty-lines.jsonl", b"\n\n")


@case()
def empty_docx(folder: Path) -> HostileCase:
    """a zero-byte .docx"""
    return _bad_file(folder, "empty-word.docx", b"")


@case()
def html_only_script_style(folder: Path) -> HostileCase:
    """HTML with only <script>/<style>: no text, so an error, not an empty source"""
    page = ("<html><head><style>body{color:red}</style></head><body><script>var x = 'not text';</script>"
            "<style>p{}</style><noscript></noscript></body></html>")
    return _bad_file(folder, "scripts-only.html", page)


@case()
def html_deep_nesting(folder: Path) -> HostileCase:
    """HTML nested 100,000 <div>s deep"""
    return _bad_file(folder, "deep-divs.html", "<div>" * 100_000 + "deep text" + "</div>" * 100_000, "either")


@case()
def html_bogus_charset(folder: Path) -> HostileCase:
    """HTML declaring a charset no codec has"""
    page = b'<html><head><meta charset="x-evil-99"></head><body><p>caf\xe9 au lait</p></body></html>'
    return _bad_file(folder, "bogus-charset.html", page, expect="either")


@case()
def html_unclosed_tags(folder: Path) -> HostileCase:
    """HTML of 50,000 unclosed '<a ' (quadratic in html.parser)"""
    return _bad_file(folder, "unclosed-tags.html", "<a " * 50_000, expect="either")  # html.parser: quadratic


@case()
def markdown_quadratic_emphasis(folder: Path) -> HostileCase:
    """Markdown of 100,000 unclosed '**a ' (a quadratic emphasis regex)"""
    return _bad_file(folder, "stars.md", "**a " * 100_000, expect="either", max_passages=50)


@case()
def markdown_quadratic_links(folder: Path) -> HostileCase:
    """Markdown of 60,000 '![' (a quadratic link regex)"""
    return _bad_file(folder, "brackets.md", "![" * 60_000 + "x", expect="either", max_passages=50)


@case(slow=True)
def text_10mb_one_line(folder: Path) -> HostileCase:
    """a 10 MB text file of words on one line, no punctuation: no sentence to split at"""
    words = re.sub(r"[.,\n]", " ", GOOD_TEXT)
    return _bad_file(folder, "ten-mb-line.txt", (words * (10_000_000 // len(words) + 1))[:10_000_000], "either")


@case(slow=True)
def text_10mb_one_word(folder: Path) -> HostileCase:
    """a 10 MB text file that is one word"""
    return _bad_file(folder, "ten-mb-word.txt", "x" * 10_000_000, expect="either")


@case()
def over_size_limit(folder: Path) -> HostileCase:
    config = folder / "small.yaml"
    config.write_text("read:\n  max_file_mb: 0.01\n")
    (folder / "too-big.txt").write_text(GOOD_TEXT * 300)  # ~50 KB against a 10 KB limit
    return HostileCase("", "a file over read.max_file_mb (set to 0.01 by --config)",
                       [_read(folder / "index", folder / "too-big.txt", expect="error", names=("too-big",),
                              config=config)])


# -- PDF --


@case()
def pdf_zero_bytes(folder: Path) -> HostileCase:
    """a zero-byte PDF"""
    return _bad_file(folder, "zero-byte.pdf", b"")


@case()
def pdf_not_a_pdf(folder: Path) -> HostileCase:
    """a text file named .pdf"""
    return _bad_file(folder, "not-really.pdf", GOOD_TEXT)


@case()
def pdf_truncated(folder: Path) -> HostileCase:
    """a PDF cut in half"""
    whole = minimal_pdf("The keeper wrote the weather in a logbook.")
    return _bad_file(folder, "truncated.pdf", whole[: len(whole) // 2])


@case()
def pdf_page_tree_loop(folder: Path) -> HostileCase:
    """a PDF whose page tree lists itself as its own kid"""
    loop = pdf_file([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])
    return _bad_file(folder, "page-loop.pdf", loop)


# -- what ask prints --

#: passages whose text is Rich markup, ANSI and OSC escapes, C0 and C1 controls (under 2%: still text)
MARKUP_TEXT = ("[/] [link=http://x]click[/link] [bold red]shout[/bold red] \x1b[31mred\x1b[0m "
               "\x1b]8;;http://evil.example\x07osc link\x1b]8;;\x07 bell\x07 csi\x9b2J next\x85line. "
               + GOOD_TEXT * 6)
#: sources printed without the generator: no passage is relevant, so ask answers "I don't know" at once
NO_MATCH_CONFIG = "retrieval:\n  reranker: none\n  min_dense_score: 2.0\n"
NO_MATCH_QUESTION = "zzqxv wvvqk?"


def _markup_index(folder: Path, markup: bool = True) -> tuple[Step, Path, Path]:
    """(the read that makes the index, the index, a config under which ask needs no generator)."""
    files = [folder / "keeper.txt"]
    files[0].write_text(GOOD_TEXT)
    if markup:
        files = [folder / "escapes.txt", folder / "[bold]named markup.txt"]
        files[0].write_text(MARKUP_TEXT)
        files[1].write_text(GOOD_TEXT)
    config = folder / "no-match.yaml"
    config.write_text(NO_MATCH_CONFIG)
    index = folder / "index"
    return _read(index, *files), index, config


@case()
def ask_prints_markup_sources(folder: Path) -> HostileCase:
    read, index, config = _markup_index(folder)

    def literal(outcomes: list[Outcome]) -> str | None:
        shown = outcomes[-1].stdout
        missing = [s for s in ("[link=http://x]click[/link]", "[/]", "[bold]named") if s not in shown]
        return f"markup not shown literally: {missing}" if missing else None

    return HostileCase("", "ask printing sources whose text and ids are Rich markup and terminal escapes",
                       [read, Step(["ask", NO_MATCH_QUESTION, "--index", str(index), "--config", str(config)])],
                       literal)


@case()
def ask_json_markup_sources(folder: Path) -> HostileCase:
    read, index, config = _markup_index(folder)

    def parsed(outcomes: list[Outcome]) -> str | None:
        try:
            answer = json.loads(outcomes[-1].stdout)
        except json.JSONDecodeError as exc:
            return f"--json printed no JSON object: {exc}"
        return None if any("[link=http://x]click" in s["text"] for s in answer["sources"]) else "sources lost"

    return HostileCase("", "ask --json with the same sources: one JSON object, no raw control characters",
                       [read, Step(["ask", NO_MATCH_QUESTION, "--index", str(index), "--config", str(config),
                                    "--json"])], parsed)


@case()
def ask_empty_question(folder: Path) -> HostileCase:
    read, index, config = _markup_index(folder, markup=False)
    return HostileCase("", "ask with an empty question: exit 2, one line, before any model loads",
                       [read, Step(["ask", "", "--index", str(index), "--config", str(config)], "usage")])


@case()
def ask_blank_question(folder: Path) -> HostileCase:
    read, index, config = _markup_index(folder, markup=False)
    return HostileCase("", "ask with a whitespace-only question: exit 2, one line",
                       [read, Step(["ask", " \n\t ", "--index", str(index), "--config", str(config)], "usage")])


@case()
def eval_deep_json(folder: Path) -> HostileCase:
    (folder / "deep-eval.json").write_text("[" * 100_000 + "]" * 100_000)
    return HostileCase("", "eval data of 100,000 nested brackets",
                       [Step(["eval", str(folder / "deep-eval.json"), "--index", str(folder / "index"),
                              "--retrieval-only"], "error", ("deep-eval",))])


@case()
def eval_fifo(folder: Path) -> HostileCase:
    os.mkfifo(folder / "eval-pipe.json")
    return HostileCase("", "eval data that is a FIFO",
                       [Step(["eval", str(folder / "eval-pipe.json"), "--index", str(folder / "index"),
                              "--retrieval-only"], "error", ("eval-pipe",))])


# -- files other commands trust: checkpoints, caches, reports (library probes) --


@case()
def checkpoint_pickle(folder: Path) -> HostileCase:
    import torch

    marker = folder / "PWNED"
    checkpoint = folder / "adapter" / "checkpoint"
    checkpoint.mkdir(parents=True)
    torch.save(_PickleBomb(str(marker)), checkpoint / "state.pt")
    return HostileCase("", "a crafted checkpoint/state.pt whose pickle creates a file when loaded (--resume)",
                       [Step(["checkpoint", str(folder / "adapter")], "error", ("checkpoint",), probe=True)],
                       lambda o: f"the pickle ran: {marker.name} was created" if marker.exists() else None)


class _PickleBomb:
    """Unpickles into `open(marker, "w")`: proof that loading ran attacker code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@case()
def cache_corrupt(folder: Path) -> HostileCase:
    cache = folder / "cache"
    cache.mkdir()
    (cache / "generations.sqlite").write_bytes(b"SQLite format 3\x00" + random.Random(5).randbytes(8192))
    return HostileCase("", "a corrupt generations.sqlite cache: regenerate or one line, never a traceback",
                       [Step(["cache", str(cache)], "either", ("generations",), probe=True)])


@case()
def cache_truncated(folder: Path) -> HostileCase:
    import sqlite3

    cache = folder / "cache"
    cache.mkdir()
    db = cache / "generations.sqlite"
    con = sqlite3.connect(db)
    with con:
        con.execute("CREATE TABLE generations (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created REAL)")
        con.executemany("INSERT INTO generations VALUES (?, ?, 0)", [(f"k{i}", "a" * 500) for i in range(2000)])
    con.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    return HostileCase("", "a generations.sqlite cut to a third (a crash mid-copy)",
                       [Step(["cache", str(cache)], "either", ("generations",), probe=True)])


@case()
def report_torn_runs(folder: Path) -> HostileCase:
    report = folder / "report"
    report.mkdir()
    good = [{"name": f"run{i}", "folder": f"run{i}", "time": "", "settings": {}, "metrics": {"n": 1}} for i in range(2)]
    (report / "runs.jsonl").write_text("".join(json.dumps(g) + "\n" for g in good) + '{"name": "run2", "met')
    return HostileCase("", "an eval report whose runs.jsonl ends in a torn line: the complete runs stay",
                       [Step(["runs", str(report)], "ok", ("runs.jsonl",), probe=True)],
                       lambda o: None if o[-1].stdout.strip() == "2 runs" else f"runs: {o[-1].stdout.strip()!r}")


@case()
def report_odd_runs(folder: Path) -> HostileCase:
    report = folder / "report"
    report.mkdir()
    good = {"name": "run0", "folder": "run0", "time": "", "settings": {}, "metrics": {"n": 1}}
    (report / "runs.jsonl").write_text(json.dumps(good) + "\n[1, 2]\n{\"metrics\": {}}\n\"text\"\n")
    return HostileCase("", "runs.jsonl lines that are JSON but not runs (a list, no name, a string)",
                       [Step(["runs", str(report)], "ok", ("runs.jsonl",), probe=True)],
                       lambda o: None if o[-1].stdout.strip() == "1 runs" else f"runs: {o[-1].stdout.strip()!r}")


def _positive(outcome: Outcome) -> str | None:
    return None if outcome.passages else f"nothing read: {outcome.stdout.strip()[:200]!r}"


def _small_index(index: Path, outcome: Outcome) -> str | None:
    """An entity expansion must not have blown a few hundred bytes up into megabytes of passages."""
    if outcome.returncode != 0:
        return None
    size = sum(len(t) for t in _stored_texts(index))
    return None if size < 1_000_000 else f"entities expanded into {size:,} characters of passages"
