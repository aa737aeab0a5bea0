"""Command line: a thin layer over `ragtune.pipeline.Pipeline`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ragtune.config import Config
from ragtune.errors import RagtuneError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Retrieval-augmented question answering you can fine-tune: read → ask → generate.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

IndexOpt = Annotated[Path, typer.Option("--index", help="Index folder.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML config overriding the defaults.")]


def _print_report(report, verb: str = "read") -> None:
    for problem in report.errors:
        err.print(f"[yellow]skipped[/yellow] {problem}")
    out.print(
        f"{verb}: {report.files_new} new, {report.files_changed} changed, {report.files_unchanged} unchanged, "
        f"{report.files_deleted} deleted, {len(report.errors)} failed files; {report.documents} documents; "
        f"passages +{report.passages_added} -{report.passages_removed} = {report.passages_total} "
        f"in {report.seconds:.1f}s"
    )


@app.command()
def read(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to add or update.")],
    index: IndexOpt,
    delete: Annotated[bool, typer.Option("--delete", help="Remove these paths from the index instead.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Add or update documents in an index; prints counts."""
    from ragtune.pipeline import Pipeline

    pipeline = Pipeline(index, Config.load(config))
    report = pipeline.delete(paths) if delete else pipeline.read(paths)
    _print_report(report, "delete" if delete else "read")
    if report.errors and report.files_ok == 0:
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    index: IndexOpt,
    top_k: Annotated[Optional[int], typer.Option("--top-k", help="Passages to retrieve.")] = None,
    adapter: Annotated[Optional[Path], typer.Option("--adapter", help="Fine-tuned adapter folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Answer a question from the index, citing the passages used."""
    from ragtune.pipeline import Pipeline

    cfg = Config.load(config, **{"retrieval.top_k": top_k})
    pipeline = Pipeline(index, cfg, adapter=adapter)
    pipeline.store  # fail fast on a missing index, before loading models
    if as_json:
        answer = pipeline.ask(question)
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return
    answer = pipeline.ask(question, on_token=lambda piece: out.print(piece, end="", markup=False))
    out.print()
    print_sources(answer)


def print_sources(answer) -> None:
    out.print("[bold]Sources[/bold]")
    for n, source in enumerate(answer.sources, start=1):
        mark = "*" if n in answer.cited else " "
        snippet = source.passage.text.replace("\n", " ")
        snippet = snippet[:100] + ("…" if len(snippet) > 100 else "")
        title = f" {source.passage.title} —" if source.passage.title else ""
        out.print(f" {mark}[{n}] [cyan]{source.id}[/cyan]{title} {snippet}", markup=True)


@app.command()
def demo(
    index: Annotated[Optional[Path], typer.Option("--index", help="Where to build the demo index.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Index the bundled sample corpus and answer Chinese and English questions from it."""
    from ragtune.demo.run import run_demo

    run_demo(Config.load(config), index)


def main() -> None:
    try:
        app()
    except RagtuneError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
