"""`ragtune demo`: index the bundled sample corpus and answer Chinese and English questions, with timings."""

from __future__ import annotations

import time
from importlib.resources import files
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ragtune.config import Config
from ragtune.pipeline import Pipeline
from ragtune.text import printable, shown

QUESTIONS = [
    "自1981年起至2012年6月，让-皮埃尔·巴利冈一直担任什么职务？",
    "地球体育场能容纳多少名观众？",
    "海梅·雷耶斯哪家漫画公司的虚拟人物？",
    "In what year did the Apollo 1 cabin fire occur?",
    "Who was Kublai Khan's grandfather?",
    "When did Khan formally declare the Yuan dynasty?",
]


def sample_corpus() -> list[Path]:
    """The bundled SQuAD-format sample files (one Chinese, one English)."""
    return sorted(Path(str(files("ragtune.demo") / "data")).glob("*.json"))


def run_demo(config: Config, index: Path | None = None, console: Console | None = None) -> list[dict]:
    """Returns one timing row per question (also what the benchmark records)."""
    console = console or Console(highlight=False)
    index = index or config.resolved_cache_dir / "demo-index"
    pipeline = Pipeline(index, config)
    console.rule("[bold]ragtune demo[/bold]")
    corpus = sample_corpus()
    console.print(f"corpus: {', '.join(p.name for p in corpus)} (CC BY-SA 4.0, see ATTRIBUTION.md)\n"
                  f"index:  {shown(index)}")

    start = time.perf_counter()
    report = pipeline.read(corpus)
    console.print(f"read: {report.documents} documents from {report.files_new + report.files_changed} files, "
                  f"{report.files_unchanged} unchanged; {report.passages_total} passages in {report.seconds:.1f}s")
    load_start = time.perf_counter()
    _ = pipeline.generator
    console.print(f"generator {config.generator.name} ready in {time.perf_counter() - load_start:.1f}s")

    rows = []
    for question in QUESTIONS:
        console.rule(style="dim")
        console.print(f"[bold]Q:[/bold] {question}")
        console.print("[bold]A:[/bold] ", end="")
        answer = pipeline.ask(question, on_token=lambda piece: console.print(printable(piece), end="", markup=False))
        console.print()
        for n, source in enumerate(answer.sources[:3], start=1):
            mark = "*" if n in answer.cited else " "
            source_id, title, snippet = (shown(t) for t in (source.id, source.passage.title,
                                                                       source.passage.text.replace("\n", " ")[:70]))
            console.print(f"  {mark}[{n}] [cyan]{source_id}[/cyan] {title}: {snippet}…", markup=True)
        rows.append({"question": question, "answer": answer.answer, **answer.timings})

    table = Table(title="timings (s)")
    for column in ("question", "retrieve", "first token", "generate"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["question"][:40], f"{row['retrieve_s']:.3f}", f"{row.get('first_token_s', 0):.2f}",
                      f"{row.get('generate_s', 0):.2f}")
    console.print(table)
    console.print(f"total demo time {time.perf_counter() - start:.1f}s")
    return rows
