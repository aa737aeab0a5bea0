"""Command line: a thin layer over `ragtune.pipeline.Pipeline`."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ragtune.config import Config
from ragtune.errors import RagtuneError, RagtuneWarning, WorkerFinished
from ragtune.text import printable, shown

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Retrieval-augmented question answering you can fine-tune: read → ask → generate.")
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
#: long steps always report: bars on a terminal, a plain line every so many steps in logs and pipes
#: (ragtune.progress)
PROGRESS = True

IndexOpt = Annotated[str, typer.Option(
    "--index", help="Index folder, or a postgresql://user@host:port/db[?schema=NAME] URL (an index in PostgreSQL).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML config overriding the defaults.")]
GraphOpt = Annotated[bool, typer.Option("--graph", help="Multi-hop: also walk the index's knowledge graph from "
                                        "the question's entities (retrieval.graph).")]
AnswerModeOpt = Annotated[str | None, typer.Option(
    "--answer-mode", help="generative (free, cited), extractive (a verbatim span of a passage, cited), or reader "
    "(a trained span reader's best span over the passages; with a reader --adapter). Default: the config's.")]
BackendOpt = Annotated[str | None, typer.Option(
    "--backend", help="What decodes: openvino (fast, packaged generators), torch, or auto (the fastest that serves "
    "the model, adapter and answer mode). Default: the config's.")]
ADAPTER_HELP = ("Fine-tuned adapter folder; repeat to combine a generator adapter with a separately trained "
                "retriever adapter.")
LengthOpt = Annotated[str | None, typer.Option("--length", help="short (1 sentence), medium (3) or long (6); "
                                                "default: the config's summarize.length.")]
TaskOpt = Annotated[str, typer.Option("--task", help="qa (questions answered from the index), summarize "
                                      '((document, summary) pairs: jsonl {"document", "summary"} or tsv; no index) '
                                      'or extract ((text, triples): jsonl {"text", "triples"}, DuIE or WebNLG; no '
                                      "index).")]
SchemaOpt = Annotated[Path | None, typer.Option("--schema", help="With --task extract: a schema file (DuIE's, or "
                                                '{"predicates": [...]}) the predicates must come from; default: the '
                                                "config's extract.schema_file.")]


def say(text: str, console: Console = out) -> None:
    """A plain line (ragtune's words around paths and values): no markup, no control characters."""
    console.print(printable(text), markup=False)


def print_json(payload: object) -> None:
    """One JSON object; C1 controls and DEL, which json leaves raw, are \\u-escaped: the same data, terminal-safe."""
    text = json.dumps(payload, ensure_ascii=False)
    print(re.sub("[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", text))


def _print_report(report, verb: str = "read") -> None:
    for problem in report.errors:
        err.print(f"[yellow]skipped[/yellow] {shown(problem)}")
    out.print(
        f"{verb}: {report.files_new} new, {report.files_changed} changed, {report.files_unchanged} unchanged, "
        f"{report.files_deleted} deleted, {len(report.errors)} failed files; {report.documents} documents; "
        f"passages +{report.passages_added} -{report.passages_removed} = {report.passages_total} "
        f"in {report.seconds:.1f}s"
    )


class _RayAddressOptional(typer.core.TyperCommand):
    """`--ray [ADDRESS]`: typer's parser has no option with an optional value, so `--ray` not followed by an
    address gets "local" (an in-process Ray) inserted before the parser sees it."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        from ragtune.index.distributed import IN_PROCESS, is_address

        given: list[str] = []
        for i, arg in enumerate(args):
            given.append(arg)
            if arg == "--ray" and (i + 1 == len(args) or not is_address(args[i + 1])):
                given.append(IN_PROCESS)
        return super().parse_args(ctx, given)


@app.command(cls=_RayAddressOptional)
def read(
    index: IndexOpt,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders to add or update.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove these paths from the index instead.")] = False,
    reembed: Annotated[bool, typer.Option("--reembed", help="Re-encode every passage with --embedder.")] = False,
    embedder: Annotated[str | None, typer.Option("--embedder", help="With --reembed: embedder name or folder "
                                                 "(e.g. a retriever adapter's encoder/).")] = None,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="[ADDRESS]",
        help="Load, chunk and embed on Ray: an in-process instance, or the cluster at ADDRESS (host:port, as "
             "`ray start --head` prints). Needs the ray extra.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Add or update documents in an index; prints counts."""
    from ragtune.pipeline import Pipeline

    pipeline = Pipeline(index, Config.load(config), progress=PROGRESS)
    if ray is not None and (delete or reembed):
        raise RagtuneError("--ray is for reading files, not --delete or --reembed")
    if reembed:
        if not embedder or paths or delete:
            raise RagtuneError("--reembed takes --embedder NAME_OR_DIR and no paths or --delete")
        done = pipeline.reembed(embedder)
        say(f"reembedded {done.passages_total} passages with {pipeline.embedder.name} in {done.seconds:.1f}s")
        return
    if embedder is not None:
        raise RagtuneError("--embedder is only for --reembed (an index keeps the embedder it was built with)")
    if not paths:
        raise RagtuneError("name files or folders to read (or --reembed --embedder NAME_OR_DIR)")
    report = pipeline.delete(paths) if delete else pipeline.read(paths, ray=ray)
    _print_report(report, "delete" if delete else "read")
    from ragtune.graph.build import update_after_read

    graph = update_after_read(pipeline, progress=PROGRESS)  # the index's graph follows it (graph.update_on_read)
    if graph is not None:
        say(graph.line())
    if report.errors and report.files_ok == 0:
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    index: IndexOpt,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages to retrieve.")] = None,
    adapter: Annotated[list[Path] | None, typer.Option("--adapter", help=ADAPTER_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    graph: GraphOpt = False,
    answer_mode: AnswerModeOpt = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Answer a question from the index, citing the passages used."""
    from ragtune.pipeline import Pipeline

    cfg = Config.load(config, **{"retrieval.top_k": top_k, "generator.answer_mode": answer_mode,
                                 "generator.backend": backend, "retrieval.graph": graph or None})
    pipeline = Pipeline(index, cfg, adapter=adapter, progress=PROGRESS)
    _ = pipeline.store  # fail fast on a missing index, before loading models
    if as_json:
        print_json(pipeline.ask(question).to_json())
        return
    answer = pipeline.ask(question, on_token=lambda piece: out.print(printable(piece), end="", markup=False))
    out.print()
    print_sources(answer)


@app.command()
def serve(
    index: IndexOpt,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1: this machine "
                                                           "only).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8000).")] = None,
    adapter: Annotated[list[Path] | None, typer.Option("--adapter", help=ADAPTER_HELP)] = None,
    api_key_file: Annotated[Path | None, typer.Option("--api-key-file", help="A file whose first line is the API "
                                                      "key (else RAGTUNE_API_KEY; neither: no key).")] = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the index over HTTP: the API (/docs), an OpenAI-compatible endpoint and a web page at /."""
    import uvicorn

    from ragtune.serve import create_app

    cfg = Config.load(config, **{"serve.host": host, "serve.port": port, "generator.backend": backend,
                                 "serve.api_key_file": str(api_key_file) if api_key_file else None})
    app_ = create_app(index, cfg, adapter, warm_up=True)
    if app_.state.ragtune.api_key is None and cfg.serve.host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: serving on {cfg.serve.host} without an API key: anyone who can reach this port can read "
            "and change the index (set RAGTUNE_API_KEY or --api-key-file)", err)
    say(f"ragtune serving {index} on http://{cfg.serve.host}:{cfg.serve.port}/ (API docs at /docs)")
    uvicorn.run(app_, host=cfg.serve.host, port=cfg.serve.port, log_level="warning")


def print_sources(answer) -> None:
    out.print("[bold]Sources[/bold]")
    for n, source in enumerate(answer.sources, start=1):
        mark = "*" if n in answer.cited else " "
        snippet = source.passage.text.replace("\n", " ")
        snippet = snippet[:100] + ("…" if len(snippet) > 100 else "")
        title = f" {shown(source.passage.title)} —" if source.passage.title else ""
        out.print(f" {mark}[{n}] [cyan]{shown(source.id)}[/cyan]{title} {shown(snippet)}", markup=True)


@app.command("eval")
def eval_(
    data: Annotated[Path, typer.Argument(help="SQuAD-format json, a BEIR folder (corpus/queries/qrels), or HotpotQA "
                                         "or MuSiQue (json or jsonl: all supporting paragraphs must be found); with "
                                         "--task summarize, (document, summary) pairs (jsonl or tsv).")],
    index: Annotated[Path | None, typer.Option("--index", help="Index folder (not with --task summarize).")] = None,
    task: TaskOpt = "qa",
    length: LengthOpt = None,
    schema: SchemaOpt = None,
    adapter: Annotated[list[Path] | None, typer.Option("--adapter", help=ADAPTER_HELP)] = None,
    retrieval_only: Annotated[bool, typer.Option("--retrieval-only", help="Score retrieval only.")] = False,
    closed_book: Annotated[bool, typer.Option("--closed-book", help="Answer without retrieval.")] = False,
    split: Annotated[str | None, typer.Option("--split", help="BEIR qrels split (default test, else train).")
                     ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages given to the generator.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Folder for metrics, predictions, plots.")
                      ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Run name in the report.")] = None,
    metric_lang: Annotated[str | None, typer.Option("--metric-lang", help="auto (each question's language picks "
                                                    "CMRC or SQuAD scoring), zh or en for every question.")
                           ] = None,
    graph: GraphOpt = False,
    answer_mode: AnswerModeOpt = None,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Score retrieval, answers and grounding on a SQuAD, BEIR, HotpotQA or MuSiQue dataset; or summaries (ROUGE,
    faithfulness); or extracted triples (precision, recall, F1)."""
    from ragtune.train.tasks import generator_task

    spec = generator_task(task, index)
    if task in _EVALUATORS:
        if retrieval_only or closed_book or split is not None:
            raise RagtuneError(f"--task {task} takes no --retrieval-only, --closed-book or --split")
        cfg = spec.configured(Config.load(config, **{"generator.backend": backend}), length=length, schema=schema)
        evaluate_task, print_table = _EVALUATORS[task]
        metrics, records = evaluate_task(data, adapter, limit, cfg)
        if as_json:
            print_json(metrics)
        else:
            print_table(metrics)
        if report is not None:
            from ragtune.eval.report import default_run_name, write_task_report

            settings = {"task": task, "data": str(data), "adapter": [str(a) for a in adapter or []], "limit": limit}
            run_dir = write_task_report(metrics, records, report, name or default_run_name(adapter=adapter, task=task),
                                        settings)
            say(f"report: {run_dir}", err)
        return
    spec.configured(Config(), length=length, schema=schema)  # an option qa does not take is an error
    from ragtune.read.questions import load_questions

    cfg = Config.load(config, **{"retrieval.top_k": top_k, "eval.metric_language": metric_lang,
                                 "generator.answer_mode": answer_mode, "generator.backend": backend,
                                 "retrieval.graph": graph or None})
    questions = load_questions(data, split)[:limit]  # a bad file fails here, before the models' imports
    from ragtune.eval.report import default_run_name, write_report
    from ragtune.eval.runner import evaluate
    from ragtune.pipeline import Pipeline

    pipeline = Pipeline(index, cfg, adapter=adapter, progress=PROGRESS)
    if not closed_book:
        _ = pipeline.store  # fail fast on a missing index, before loading models
    result = evaluate(pipeline, questions, retrieval_only=retrieval_only, closed_book=closed_book, data=data)
    for warning in result.metrics.get("warnings", []):
        err.print(f"[yellow]warning:[/yellow] {shown(warning)}")
    # the metrics first: a report that cannot be written must not lose an hour of evaluation
    if as_json:
        print_json(result.metrics)
    else:
        print_metrics(result.metrics)
    if report is not None:
        run_name = name or default_run_name(closed_book, result.settings["retrieval_only"], adapter)
        say(f"report: {write_report(result, report, run_name)}", err)


def _eval_summaries(data: Path, adapter: list[Path] | None, limit: int | None, cfg: Config) -> tuple[dict, list]:
    from ragtune.eval.summaries import evaluate_summaries
    from ragtune.pipeline import Pipeline
    from ragtune.read.summaries import load_summaries

    pairs = load_summaries(data)[:limit]
    return evaluate_summaries(Pipeline(Path("."), cfg, adapter=adapter, progress=PROGRESS), pairs, PROGRESS)


def _print_summary_metrics(metrics: dict) -> None:
    from rich.table import Table

    table = Table(title=f"eval summarize: {metrics['n']} documents in {metrics['seconds']:.1f}s")
    for column in ("metric", "value"):
        table.add_column(column)
    for metric, value in metrics["summary"].items():
        table.add_row(metric, f"{value:.2f}")
    out.print(table)


def _eval_triples(data: Path, adapter: list[Path] | None, limit: int | None, cfg: Config) -> tuple[dict, list]:
    from ragtune.eval.triples import evaluate_triples
    from ragtune.graph.extractor import configured_schema
    from ragtune.pipeline import Pipeline
    from ragtune.read.triples import load_triples

    schema = configured_schema(cfg)
    examples = load_triples(data)[:limit]
    return evaluate_triples(Pipeline(Path("."), cfg, adapter=adapter, progress=PROGRESS), examples, schema,
                            PROGRESS)


def _print_triple_metrics(metrics: dict) -> None:
    from rich.table import Table

    table = Table(title=f"eval extract: {metrics['n']} texts, {metrics['predicted']} triples predicted, "
                        f"{metrics['gold']} gold, in {metrics['seconds']:.1f}s")
    for column in ("metric", "exact", "normalised"):
        table.add_column(column)
    for name in ("precision", "recall", "f1"):
        table.add_row(name, f"{metrics['triples'][name]:.2f}", f"{metrics['triples'][name + '_norm']:.2f}")
    out.print(table)


#: `eval --task NAME` for the tasks scored without an index: (data, adapters, limit, task config) -> (metrics,
#: per-item records), and the table printed without --json
_EVALUATORS = {"summarize": (_eval_summaries, _print_summary_metrics),
               "extract": (_eval_triples, _print_triple_metrics)}


def print_metrics(metrics: dict) -> None:
    from rich.table import Table

    table = Table(title=f"eval: {metrics['n']} questions in {metrics['seconds']:.1f}s")
    for column in ("section", "metric", "value"):
        table.add_column(column)
    for section in ("retrieval", "answer", "grounding"):
        for metric, value in metrics.get(section, {}).items():
            table.add_row(section, metric, f"{value:.4f}" if section == "retrieval" else f"{value:.2f}")
    if "gold_in_index" in metrics:
        table.add_row("index", "gold_in_index", f"{metrics['gold_in_index']:.4f}")
    out.print(table)


@app.command()
def summarize(
    path: Annotated[Path | None, typer.Argument(help="A file to summarize (any format `read` takes).")] = None,
    index: Annotated[Path | None, typer.Option("--index", help="Index folder (with --doc or --query).")] = None,
    doc: Annotated[str | None, typer.Option("--doc", help="Summarize this indexed document (its id).")] = None,
    query: Annotated[str | None, typer.Option("--query", help="Summarize what the index says about this, citing "
                                              "the passages [n].")] = None,
    length: LengthOpt = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="With --query: passages to retrieve.")] = None,
    adapter: Annotated[list[Path] | None, typer.Option("--adapter", help=ADAPTER_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    backend: BackendOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Summarize a file, an indexed document, or what the index says about a query, in the text's language."""
    from ragtune.pipeline import Pipeline
    from ragtune.summarize import Summarizer, summary_config
    from ragtune.summarize.sources import file_text, indexed_text

    if (path is not None) + (doc is not None) + (query is not None) != 1:
        raise RagtuneError("summarize takes one of: PATH, --index DIR --doc ID, --index DIR --query TEXT")
    if (doc is not None or query is not None) and index is None:
        raise RagtuneError("--doc and --query need --index DIR")
    cfg = summary_config(Config.load(config, **{"generator.backend": backend, "summarize.top_k": top_k}), length)
    pipeline = Pipeline(index or Path("."), cfg, adapter=adapter, progress=PROGRESS)
    summarizer = Summarizer(pipeline)
    if query is not None:
        _ = pipeline.store  # fail fast on a missing index, before loading models
        result = summarizer.summarize_query(query)
    else:
        text = file_text(path, cfg) if path is not None else indexed_text(pipeline.store, doc)
        result = summarizer.summarize(text)
    if as_json:
        print_json(result.to_json())
        return
    say(result.summary)
    if result.sources:
        print_sources(result)


@app.command()
def demo(
    index: Annotated[Path | None, typer.Option("--index", help="Where to build the demo index.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Index the bundled sample corpus and answer Chinese and English questions from it."""
    from ragtune.demo.run import run_demo

    run_demo(Config.load(config), index)


def _opened_pipeline(index: str, cfg: Config):
    """The index's pipeline with its store opened: a missing index fails fast, before any model loads."""
    from ragtune.pipeline import Pipeline

    pipeline = Pipeline(index, cfg, progress=PROGRESS)
    _ = pipeline.store
    return pipeline


MaxStepsOpt = Annotated[int | None, typer.Option("--max-steps", min=1, help="Optimizer steps (overrides epochs).")]
EpochsOpt = Annotated[float | None, typer.Option("--epochs", help="Passes over the training questions.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run whose checkpoint is in --out.")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, help="Train data-parallel in this many processes (torchrun; gloo on CPU, NCCL on GPUs): "
    "each takes its share of every batch, gradients are averaged. Default: the config's (1).")]
QuestionsArg = Annotated[Path, typer.Argument(help='SQuAD-format json, or jsonl of {"question", "answer"[, '
                                              '"passage_id"]}.')]


def _out_option(what: str):
    """The --out option of a train command: the folder it writes, and what goes in it."""
    return Annotated[Path, typer.Option("--out", help=f"Folder to write ({what}).")]


index_app = typer.Typer(no_args_is_help=True, help="Maintain an index.")
app.add_typer(index_app, name="index")


@index_app.command("optimize")
def index_optimize(index: IndexOpt, config: ConfigOpt = None) -> None:
    """Compact an index: drop deleted passages for good, exact BM25 statistics, one vector graph."""
    from ragtune.pipeline import Pipeline

    done = Pipeline(index, Config.load(config), progress=PROGRESS).optimize()
    say(f"optimized {done.passages_total} passages in {done.seconds:.1f}s")


graph_app = typer.Typer(no_args_is_help=True, help="The index's knowledge graph: triples the generator extracts "
                        "from its passages, with their sources.")
app.add_typer(graph_app, name="graph")


def _open_graph(index: str):
    from ragtune.index.graph.store import GraphStore

    graph = GraphStore.open(index)
    if graph is None:
        raise RagtuneError(f"{index}: the index has no graph yet; run `ragtune graph build --index {index}`")
    return graph


@graph_app.command("build")
def graph_build(
    index: IndexOpt,
    schema: Annotated[Path | None, typer.Option(
        "--schema", help="Predicates (and entity types) extraction may use: DuIE's schema file, or yaml/json "
        '{"predicates": [...]}.')] = None,
    adapter: Annotated[Path | None, typer.Option("--adapter", help="Generator adapter (`train generator --task "
                                                 "extract`).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Cover only the index's first N passages.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Extract triples from every passage (new and changed ones only when the graph exists); prints counts.
    --schema, --adapter and --limit default to what the graph was built with (the schema first to
    extract.schema_file)."""
    from ragtune.graph.build import build_graph

    say(build_graph(index, Config.load(config), adapter=adapter, schema=schema, limit=limit,
                    progress=PROGRESS).line())


@graph_app.command("show")
def graph_show(
    entity: Annotated[str, typer.Argument(help="An entity name (any alias, any case).")],
    index: IndexOpt,
    hops: Annotated[int | None, typer.Option("--hops", min=0, max=3,
                                             help="How far from the entity, 0-3 (default: graph.hops).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Nodes and edges as one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """An entity's neighbourhood: each triple with its source passage (id, title, the text around it)."""
    from ragtune.graph.show import format_lines, index_text_lookup, neighbourhood
    from ragtune.index.backends import open_index

    cfg = Config.load(config)
    with _open_graph(index) as graph:
        view = neighbourhood(graph, entity, cfg.graph.hops if hops is None else hops, cfg.graph.max_edges,
                             index_text_lookup(open_index(index, cfg)))
    if as_json:
        print_json(view)
    else:
        for line in format_lines(view):
            say(line)


@graph_app.command("export")
def graph_export(
    index: IndexOpt,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (a triple with its provenance a line) or graphml.")],
    out_file: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
) -> None:
    """The whole graph as JSON lines or GraphML."""
    from ragtune.graph.export import export_graph

    with _open_graph(index) as graph:
        written = export_graph(graph, fmt, out_file)
    if out_file is not None:
        say(f"exported {written} triples → {out_file}")


train_app = typer.Typer(no_args_is_help=True, help="Fine-tune a model on your own questions and index.")
app.add_typer(train_app, name="train")


@train_app.command("generator")
def train_generator_(
    data: Annotated[Path, typer.Argument(help='SQuAD-format json, or jsonl of {"question", "answer"[, '
                                         '"passage_id"]}; with --task summarize, (document, summary) pairs.')],
    out_dir: _out_option("the best adapter, checkpoint/"),
    index: Annotated[Path | None, typer.Option("--index", help="Index folder (not with --task summarize).")] = None,
    task: TaskOpt = "qa",
    length: LengthOpt = None,
    schema: SchemaOpt = None,
    max_steps: MaxStepsOpt = None,
    epochs: EpochsOpt = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    resume: ResumeOpt = False,
    workers: WorkersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """LoRA-tune the generator on retrieved passages (gold + distractors, RAFT-style), on summaries, or on
    (text, triples) pairs."""
    from ragtune.train.tasks import generator_task

    spec = generator_task(task, index)
    cfg = Config.load(config, **{"train.max_steps": max_steps, "train.epochs": epochs, "train.lr": lr,
                                 "distributed.workers": workers})
    if _data_parallel(cfg):
        return
    cfg = spec.configured(cfg, length=length, schema=schema)
    if spec.needs_index:
        pipeline = _opened_pipeline(index, cfg)
    else:
        from ragtune.pipeline import Pipeline

        pipeline = Pipeline(index or Path("."), cfg, progress=PROGRESS)
    result = spec.train(pipeline, data, out_dir, resume=resume, progress=PROGRESS)
    scores = spec.score_line(result.best or {})
    early = " (early stop)" if result.stopped_early else ""
    _print_skipped_long(result.skipped_long, cfg)
    _print_skipped_unsupported(result.skipped_unsupported, cfg)
    say(f"trained {result.step}/{result.total_steps} steps{early} on {result.examples} examples in "
              f"{result.train_seconds:.1f}s ({result.mean_step_seconds:.2f}s/step){scores} → {result.out}")


def _data_parallel(cfg: Config) -> bool:
    """`--workers N`: True in the command the user ran once its N ranks are done (nothing more to do there);
    inside a rank, join the others first (rank 0 alone shows progress)."""
    from ragtune.train import distributed

    if distributed.launch(cfg.distributed):
        return True
    distributed.join()
    if not distributed.is_rank_zero():
        global PROGRESS
        PROGRESS = False
    return False


def _print_skipped_long(skipped: int, cfg: Config) -> None:
    if skipped:
        say(f"skipped {skipped} questions whose answers are all longer than {cfg.train.max_answer_units} "
                  "units (train.max_answer_units)")


def _print_skipped_unsupported(skipped: int, cfg: Config) -> None:
    if skipped:
        say(f"skipped {skipped} pairs whose summary has no sentence supported by its document at "
            f"{cfg.summarize.train_min_support} (summarize.train_min_support)")


@train_app.command("retriever")
def train_retriever_(
    data: Annotated[Path, typer.Argument(help="SQuAD json, BEIR folder (train qrels), or synth jsonl "
                                         '({"question", "answer", "passage_id"}).')],
    index: IndexOpt,
    out_dir: _out_option("the retriever adapter"),
    max_steps: MaxStepsOpt = None,
    epochs: EpochsOpt = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate of the query adapter.")] = None,
    split: Annotated[str, typer.Option("--split", help="BEIR qrels split to train on.")] = "train",
    resume: ResumeOpt = False,
    workers: WorkersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Contrastively tune the retriever: in-batch negatives plus hard negatives mined from the index."""
    from ragtune.train.retriever import train_retriever

    cfg = Config.load(config, **{"train_retriever.max_steps": max_steps, "train_retriever.epochs": epochs,
                                 "train_retriever.lr": lr, "distributed.workers": workers})
    if _data_parallel(cfg):
        return
    pipeline = _opened_pipeline(index, cfg)
    result = train_retriever(pipeline, data, out_dir, split=split, resume=resume, progress=PROGRESS)
    then = (f"; run `ragtune read --reembed --embedder {result.out / 'encoder'} --index {index}` before using it"
            if result.kind == "encoder" else "")
    held = result.heldout
    kept = (f"; held-out dense MRR@10 {held['base_mrr@10']:.3f} → {held['best_mrr@10']:.3f} (step "
            f"{held['best_step']} kept)" if held else "")
    fusion = result.fusion
    if fusion:
        kept += (f"; fusion dense weight {fusion['default_dense_weight']:g} → {fusion['dense_weight']:g} (held-out "
                 f"hybrid MRR@10 {fusion['default_mrr@10']:.3f} → {fusion['fitted_mrr@10']:.3f})")
    say(f"trained {result.kind} {result.steps} steps on {result.examples} examples "
              f"({result.questions} questions) in {result.train_seconds:.1f}s, loss {result.loss_first:.3f} → "
              f"{result.loss_last:.3f}{kept} → {result.out}{then}")


@train_app.command("reader")
def train_reader_(
    data: QuestionsArg,
    index: IndexOpt,
    out_dir: _out_option("the reader: LoRA, span head, ragtune.json"),
    max_steps: MaxStepsOpt = None,
    max_minutes: Annotated[float | None, typer.Option("--max-minutes", help="Wall-clock budget of the training "
                                                      "loop (default: the config's, 47).")] = None,
    fit_only: Annotated[bool, typer.Option("--fit-only", help="Only fit the retrieval weight of the reader "
                                           "already in --out again, on its held-out questions.")] = False,
    workers: WorkersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Train an extractive reader: a span head on the generator's hidden states (LoRA), question + gold passage +
    a distractor → the answer span. Use it with `ask/eval --adapter OUT` (answer mode reader)."""
    from ragtune.train.reader import refit_reader, train_reader

    cfg = Config.load(config, **{"train_reader.max_steps": max_steps, "train_reader.max_minutes": max_minutes,
                                 "distributed.workers": workers})
    if _data_parallel(cfg):
        return
    pipeline = _opened_pipeline(index, cfg)
    if fit_only:
        say(_describe_fit(refit_reader(pipeline, data, out_dir, progress=PROGRESS)).removeprefix("; "))
        return
    result = train_reader(pipeline, data, out_dir, progress=PROGRESS)
    held = result.heldout
    scores = f"; held-out EM {held['em']:.1f} F1 {held['f1']:.1f} ({held['questions']} questions)" if held else ""
    scores += _describe_fit(result.retrieval_fit)
    skipped = f" ({result.skipped} skipped: answer not in an indexed passage)" if result.skipped else ""
    say(f"trained reader {result.steps} steps, {result.seen} questions read of {result.examples}{skipped}, in "
              f"{result.train_seconds:.1f}s, loss {result.loss_first:.3f} → {result.loss_last:.3f}{scores} → "
              f"{result.out}")


def _describe_fit(fit: dict) -> str:
    if not fit:
        return ""
    return (f"; retrieval weight {fit['weight']:g} (held-out open-corpus F1 {fit['fitted_f1']:.1f}, "
            f"{fit['default_f1']:.1f} at the default {fit['default_weight']:g})")


@train_app.command("joint")
def train_joint_(
    data: QuestionsArg,
    index: IndexOpt,
    out_dir: _out_option("the adapter: LoRA + query adapter"),
    mode: Annotated[str | None, typer.Option("--mode", help="sequence (RAG-Sequence) or token (RAG-Token).")
                    ] = None,
    max_steps: MaxStepsOpt = None,
    epochs: EpochsOpt = None,
    resume: ResumeOpt = False,
    workers: WorkersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Tune the query encoder and the generator's LoRA together on the RAG marginal likelihood."""
    from ragtune.train.joint import train_joint

    cfg = Config.load(config, **{"train_joint.mode": mode, "train_joint.max_steps": max_steps,
                                 "train_joint.epochs": epochs, "distributed.workers": workers})
    if _data_parallel(cfg):
        return
    pipeline = _opened_pipeline(index, cfg)
    result = train_joint(pipeline, data, out_dir, resume=resume, progress=PROGRESS)
    first, last = result.first, result.last
    _print_skipped_long(result.skipped_long, cfg)

    def change(name: str, digits: int) -> str:
        shown = [("-" if e[name] is None else f"{e[name]:.{digits}f}") for e in (first, last)]
        return " → ".join(shown)

    say(f"trained joint RAG-{result.mode} {result.steps} steps on {result.questions} questions in "
              f"{result.train_seconds:.1f}s: loss/token {change('loss', 3)}, p(z|q) entropy {change('entropy', 2)}, "
              f"gold rank {change('gold_rank', 2)}, temperature {result.temperature:.4f} → {result.out}")


@app.command("synth")
def synth(
    index: IndexOpt,
    out_file: Annotated[Path, typer.Option("--out", help="jsonl of question/answer pairs to write.")],
    n: Annotated[int | None, typer.Option("--n", min=1, help="Pairs to keep (default: synth.n).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Which passages and sentences are asked about.")
                    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Synthesise question/answer pairs from the indexed passages (filtered by span and round-trip checks)."""
    from ragtune.pipeline import Pipeline
    from ragtune.synth import synthesise, write_pairs

    cfg = Config.load(config, **{"synth.seed": seed})
    pipeline = Pipeline(index, cfg, progress=PROGRESS)
    if len(pipeline.store) == 0:
        raise RagtuneError(f"{index}: the index is empty; `ragtune read` some documents first")
    report = synthesise(pipeline, n, progress=PROGRESS)
    write_pairs(report.kept, out_file)
    rejected = ", ".join(f"{reason} {count}" for reason, count in report.rejected.most_common()) or "none"
    say(f"synth: kept {len(report.kept)} of {report.generated} generated pairs, {report.cloze} of them with "
              f"a cloze question in place of the model's (rejected: {rejected}) → {out_file}")


@app.command("export")
def export_(
    adapter: Annotated[Path, typer.Option("--adapter", help="Trained adapter folder.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the merged model.")],
    config: ConfigOpt = None,
) -> None:
    """Merge an adapter into its base model: a plain transformers model folder with tokenizer."""
    from ragtune.train.export import export_merged

    say(f"exported → {export_merged(adapter, out_dir, Config.load(config))}")


_python_show_warning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """RagtuneWarnings (something repaired or skipped) as one `warning:` line; others as Python shows them."""
    if issubclass(category, RagtuneWarning):
        err.print(f"[yellow]warning:[/yellow] {shown(message)}")
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def main() -> None:
    warnings.showwarning = _show_warning
    try:
        app()
    except WorkerFinished:  # a data-parallel rank other than 0 is done: rank 0 writes and reports
        from ragtune.train.distributed import leave

        leave()
    except RagtuneError as exc:
        err.print(f"[red]error:[/red] {shown(exc)}", markup=True, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
