"""Library entry points the hostile corpus feeds where the CLI path would load a model first.

`python probes.py KIND FOLDER` calls one loader the way its command does and, like `ragtune`'s main, prints a
RagtuneError as one `error:` line (exit 1); anything else escapes as a traceback, which the corpus counts.

- checkpoint FOLDER: `train ... --resume` loading FOLDER/checkpoint/state.pt (train/checkpoint.py)
- cache FOLDER: the generation cache in FOLDER (generate/cache.py), asked for one answer
- runs FOLDER: an eval report's runs (eval/report.py load_runs); prints "N runs"
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from ragtune.errors import RagtuneError, RagtuneWarning


def checkpoint(folder: Path) -> str:
    from ragtune.train.checkpoint import CHECKPOINT, load_state

    found, state = load_state(folder / CHECKPOINT)
    return f"loaded {found} ({type(state).__name__})"


def cache(folder: Path) -> str:
    from ragtune.generate.cache import GenerationCache

    def generate(batch, on_batch=None):
        return [f"answer to {messages[-1]['content']}" for messages in batch]

    answers = GenerationCache(folder, "probe-model", None, 8).generate([[{"role": "user", "content": "q"}]], generate)
    return f"answers {answers}"


def runs(folder: Path) -> str:
    from ragtune.eval.report import load_runs

    return f"{len(load_runs(folder))} runs"


PROBES = {"checkpoint": checkpoint, "cache": cache, "runs": runs}


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """As `ragtune`'s main shows them: a RagtuneWarning is one `warning:` line; others as Python does."""
    if issubclass(category, RagtuneWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        warnings._showwarnmsg_impl(warnings.WarningMessage(message, category, filename, lineno, file, line))


def main() -> None:
    warnings.showwarning = show_warning
    kind, folder = sys.argv[1], Path(sys.argv[2])
    try:
        print(PROBES[kind](folder))
    except RagtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
