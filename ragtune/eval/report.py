"""Eval reports on disk: metrics, per-question predictions, plots and an HTML page comparing runs.

Layout of a report folder (several runs can share one)::

    DIR/runs.jsonl                  one entry per run, appended: name, time, settings, metrics
    DIR/runs/<name>/                metrics.json, predictions.jsonl, recall_at_k.png, f1_hist.png
    DIR/metrics.json, predictions.jsonl   copies of the latest run
    DIR/compare.png                 em/f1/rouge_l/bleu side by side, once two named runs have answers
    DIR/index.html                  all of the above on one page
"""

from __future__ import annotations

import html
import json
import re
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from ragtune.errors import RagtuneError, RagtuneWarning
from ragtune.eval.retrieval_metrics import recall_at_k
from ragtune.eval.runner import RETRIEVE_DEPTH, EvalResult, QuestionRecord

ANSWER_METRICS = ("em", "f1", "rouge_l", "bleu")


def default_run_name(closed_book: bool = False, retrieval_only: bool = False, adapter: object = None,
                     task: str | None = None) -> str:
    """What a run is called without --name: closed-book, retrieval, rag or rag+adapter; a `--task` run its
    task's name (extract, extract+adapter)."""
    if task is not None:
        return f"{task}+adapter" if adapter else task
    if closed_book:
        return "closed-book+adapter" if adapter else "closed-book"
    if retrieval_only:
        return "retrieval"
    return "rag+adapter" if adapter else "rag"


def write_report(result: EvalResult, folder: str | Path, name: str) -> Path:
    """Add this run to the report folder and regenerate its page; returns the index.html path."""
    return _reporting(_write_report, folder, result, name)


def _reporting(write, folder: str | Path, *args):
    """`write(folder, *args)`, an OSError (a file where the folder should be, no space, no permission) turned
    into a one-line error naming the folder."""
    folder = Path(folder).expanduser()
    try:
        return write(folder, *args)
    except OSError as exc:
        raise RagtuneError(f"{folder}: cannot write the report: {exc.strerror or exc}") from exc


def _write_report(folder: Path, result: EvalResult, name: str) -> Path:
    run_dir = _write_run(folder, name, result.settings, result.metrics, result.records)
    for stale in ("recall_at_k.png", "f1_hist.png"):
        (run_dir / stale).unlink(missing_ok=True)
    if not result.settings.get("closed_book"):
        plot_recall_curve(result.records, run_dir / "recall_at_k.png", name)
    if any(r.f1 is not None for r in result.records):
        plot_f1_histogram(result.records, run_dir / "f1_hist.png", name)

    runs = load_runs(folder)
    compare = folder / "compare.png"
    compare.unlink(missing_ok=True)
    answered = [r for r in runs if "answer" in r["metrics"]]
    if len(answered) >= 2:
        plot_comparison(answered, compare)
    page = folder / "index.html"
    page.write_text(_html(folder, runs, result), encoding="utf-8")
    return page


def write_task_report(metrics: dict[str, Any], records: list, folder: str | Path, name: str,
                      settings: dict[str, Any]) -> Path:
    """A `--task` run (summaries, triples) in the same folder layout, one record per document or text (what the
    generator wrote, parsed, and the gold); no plots, which are about questions. Returns the run's folder."""
    return _reporting(_write_run, folder, name, settings, metrics, records)


def _write_run(folder: Path, name: str, settings: dict[str, Any], metrics: dict[str, Any], records: list) -> Path:
    """runs/<name>/metrics.json and predictions.jsonl, their copies at the top and the run's runs.jsonl entry."""
    run_dir = folder / "runs" / _slug(name)
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {"name": name, "time": time.strftime("%Y-%m-%d %H:%M:%S"), "settings": settings, "metrics": metrics}
    (run_dir / "metrics.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as fh:
        for record in records:
            row = record.to_json() if hasattr(record, "to_json") else record
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    for file in ("metrics.json", "predictions.jsonl"):
        shutil.copyfile(run_dir / file, folder / file)
    append_line(folder / "runs.jsonl",
                json.dumps({**summary, "folder": str(run_dir.relative_to(folder))}, ensure_ascii=False))
    return run_dir


def append_line(path: Path, line: str) -> None:
    """Append one line; a last line left torn (no newline: a run killed while writing) is ended first, so the
    new entry is not glued onto it."""
    with open(path, "ab+") as fh:
        if fh.seek(0, 2) > 0:
            fh.seek(-1, 2)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write(line.encode("utf-8") + b"\n")


#: what the page reads of each run entry
RUN_KEYS = ("name", "time", "settings", "metrics", "folder")


def load_runs(folder: Path) -> list[dict[str, Any]]:
    """The latest entry per run name from runs.jsonl, oldest first; torn or foreign lines are skipped with a
    warning (one lost entry must not lose the report)."""
    latest: dict[str, dict[str, Any]] = {}
    skipped: list[int] = []
    path = folder / "runs.jsonl"
    if path.is_file():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            entry = _run_entry(line)
            if entry is None:
                skipped.append(number)
                continue
            latest.pop(entry["name"], None)  # re-insert so order follows the latest run
            latest[entry["name"]] = entry
    if skipped:
        lines = f"line {skipped[0]} is" if len(skipped) == 1 else f"{len(skipped)} lines (first: {skipped[0]}) are"
        warnings.warn(f"{path}: {lines} not a whole run entry (a torn write?); skipped", RagtuneWarning,
                      stacklevel=2)
    return list(latest.values())


def _run_entry(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or any(key not in entry for key in RUN_KEYS):
        return None
    if not (isinstance(entry["name"], str) and isinstance(entry["folder"], str)
            and isinstance(entry["metrics"], dict) and "n" in entry["metrics"]):
        return None
    return entry


def recall_curve(records: list[QuestionRecord], depth: int = RETRIEVE_DEPTH) -> list[float]:
    """Mean recall@k for k = 1..depth."""
    if not records:
        return [0.0] * depth
    return [sum(recall_at_k(r.retrieved, r.qrels, k, r.all_required) for r in records) / len(records)
            for k in range(1, depth + 1)]


# ---- plots (matplotlib's Agg canvas: no display, no global backend switch) -------------------


def _figure(width: float = 6.0, height: float = 3.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def plot_recall_curve(records: list[QuestionRecord], path: Path, title: str = "") -> None:
    curve = recall_curve(records)
    fig, ax = _figure()
    ks = list(range(1, len(curve) + 1))
    ax.plot(ks, curve, marker="o", markersize=3)
    ax.set(xlabel="k", ylabel="recall@k", ylim=(0, 1.02), xticks=[1, 5, 10, 15, 20], title=f"{title} recall@k")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def plot_f1_histogram(records: list[QuestionRecord], path: Path, title: str = "") -> None:
    scores = [r.f1 for r in records if r.f1 is not None]
    fig, ax = _figure()
    ax.hist(scores, bins=[10 * i for i in range(11)], edgecolor="white")
    ax.set(xlabel="F1 (0–100)", ylabel="questions", title=f"{title} F1 per question")
    fig.tight_layout()
    fig.savefig(path)


def plot_comparison(runs: list[dict[str, Any]], path: Path) -> None:
    fig, ax = _figure(max(6.0, 1.6 * len(ANSWER_METRICS) + 0.4 * len(runs)), 4.0)
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        values = [run["metrics"]["answer"].get(m, 0.0) for m in ANSWER_METRICS]
        xs = [j - 0.4 + width * (i + 0.5) for j in range(len(ANSWER_METRICS))]
        bars = ax.bar(xs, values, width, label=run["name"])
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(ANSWER_METRICS)), ANSWER_METRICS)
    ax.set(ylabel="score (0–100)", title="answer metrics by run")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


# ---- page ------------------------------------------------------------------------------------

_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}img{max-width:100%}"
          ".miss{color:#b00}")


def _metric_cells(metrics: dict[str, Any]) -> list[str]:
    cells = []
    for section, names in (("retrieval", ("recall@1", "recall@5", "recall@20", "mrr@10", "ndcg@10")),
                           ("answer", ANSWER_METRICS), ("grounding", ("grounded", "abstained"))):
        values = metrics.get(section, {})
        cells += [f"{values[n]:g}" if n in values else "–" for n in names]
    return cells


def _html(folder: Path, runs: list[dict[str, Any]], latest: EvalResult) -> str:
    esc = html.escape
    header = ["run", "time", "n", "R@1", "R@5", "R@20", "MRR@10", "nDCG@10", *ANSWER_METRICS, "grounded",
              "abstained"]
    rows = [[run["name"], run["time"], str(run["metrics"]["n"]), *_metric_cells(run["metrics"])]
            for run in reversed(runs)]
    parts = [f"<!doctype html><meta charset='utf-8'><title>ragtune eval</title><style>{_STYLE}</style>",
             "<h1>ragtune eval</h1>", _table(header, rows)]
    if (folder / "compare.png").is_file():
        parts.append("<h2>Runs compared</h2><img src='compare.png' alt='answer metrics by run'>")
    for run in reversed(runs):
        run_dir = folder / run["folder"]
        parts.append(f"<h2>{esc(run['name'])}</h2><p>{esc(json.dumps(run['settings']))}</p>")
        for png in ("recall_at_k.png", "f1_hist.png"):
            if (run_dir / png).is_file():
                parts.append(f"<img src='{esc(run['folder'])}/{png}' alt='{png}'>")
        parts.append(f"<p><a href='{esc(run['folder'])}/predictions.jsonl'>predictions.jsonl</a></p>")
    shown = latest.records[:200]
    parts.append(f"<h2>Latest run: first {len(shown)} of {len(latest.records)} questions</h2>")
    pred_rows = [[r.question, " | ".join(r.references), r.prediction if r.prediction is not None else "–",
                  "–" if r.hit is None else ("hit" if r.hit else "miss"),
                  "–" if r.f1 is None else f"{r.f1:g}", ", ".join(r.retrieved[:5])] for r in shown]
    parts.append(_table(["question", "references", "prediction", "top-k", "F1", "retrieved (top 5)"], pred_rows))
    return "\n".join(parts) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=miss' if c == 'miss' else ''}>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _slug(name: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", name).strip("._") or "run"
