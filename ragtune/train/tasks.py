"""The generator's training tasks by name (`--task` of `train generator` and `eval`): what each needs, how it sets
up its config, which function trains it, and which held-out scores its result line shows.

A new task is one entry here (and its own module): the CLI looks tasks up instead of branching on their names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from ragtune.config import Config
from ragtune.errors import RagtuneError


def _qa_config(config: Config, options: dict[str, Any]) -> Config:
    return config


def _summary_config(config: Config, options: dict[str, Any]) -> Config:
    from ragtune.summarize import summary_config

    return summary_config(config, options.get("length"))


def _extract_config(config: Config, options: dict[str, Any]) -> Config:
    from ragtune.graph.extractor import extract_config

    if options.get("schema") is not None:
        config = config.model_copy(update={"extract": config.extract.model_copy(
            update={"schema_file": str(options["schema"])})})
    return extract_config(config)


@dataclass(frozen=True)
class GeneratorTaskSpec:
    name: str
    #: whether the task trains and evaluates over an index (--index DIR)
    needs_index: bool
    #: "module:function" (pipeline, data, out, *, resume, progress) -> TrainResult
    trainer: str
    #: the config the task runs with, from the loaded one and the command's task options (--length, --schema)
    configure: Callable[[Config, dict[str, Any]], Config]
    #: options this task takes, beyond the common ones
    options: tuple[str, ...] = ()
    #: (best-entry key, label) shown in the result line
    scores: tuple[tuple[str, str], ...] = field(default=())

    def train(self, *args, **kwargs):
        module, function = self.trainer.split(":")
        return getattr(import_module(module), function)(*args, **kwargs)

    def configured(self, config: Config, **options: Any) -> Config:
        """`config` for this task; an option it does not take is a one-line error."""
        given = [name for name, value in options.items() if value is not None and name not in self.options]
        if given:
            raise RagtuneError(f"--task {self.name} takes no --{given[0]}")
        return self.configure(config, options)

    def score_line(self, best: dict[str, Any]) -> str:
        shown = [f"{label} {best[key]:.1f}" for key, label in self.scores if key in best]
        return f"; best {' '.join(shown)} at step {best['step']}" if shown else ""


TASKS = {
    # qa takes --length as it always has (and ignores it)
    "qa": GeneratorTaskSpec("qa", True, "ragtune.train.generator:train_generator", _qa_config, options=("length",),
                            scores=(("f1", "F1"), ("em", "EM"))),
    "summarize": GeneratorTaskSpec("summarize", False, "ragtune.train.summarize:train_summarizer", _summary_config,
                                   options=("length",), scores=(("rouge_l", "ROUGE-L"),)),
    "extract": GeneratorTaskSpec("extract", False, "ragtune.train.extract:train_extractor", _extract_config,
                                 options=("schema",), scores=(("triple_f1", "triple F1"),
                                                              ("triple_f1_norm", "normalised"))),
}


def generator_task(name: str, index: object | None) -> GeneratorTaskSpec:
    """The task called `name`; a one-line error for an unknown one, or a missing index it needs."""
    spec = TASKS.get(name)
    if spec is None:
        raise RagtuneError(f"--task {name!r}: use one of {', '.join(TASKS)}")
    if spec.needs_index and index is None:
        others = ", ".join(n for n, s in TASKS.items() if not s.needs_index)
        raise RagtuneError(f"--index DIR is required (except with --task {others})")
    return spec
