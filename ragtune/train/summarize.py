"""LoRA fine-tuning of the generator on (document, summary) pairs: the generator task's loop, loss and adapter,
with summarize's own prompt as the input and held-out ROUGE-L keeping the best step."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ragtune.config import Config
from ragtune.errors import LoadError
from ragtune.eval.answer_metrics import rouge_scores
from ragtune.eval.faithfulness import supported_sentences
from ragtune.files import file_sha256
from ragtune.generate.base import Message
from ragtune.pipeline import Pipeline
from ragtune.read.summaries import SummaryPair, load_summaries
from ragtune.summarize.prompt import summary_messages
from ragtune.summarize.summarizer import LANGUAGE_SAMPLE
from ragtune.text import count_units, language_of, truncate_units
from ragtune.train.checkpoint import check_out
from ragtune.train.examples import split_questions
from ragtune.train.generator import GeneratorTask, TrainResult, run_generator_task
from ragtune.train.model import add_lora, held_out_generator, training_base
from ragtune.train.tokenize import encode_example


@dataclass
class SummaryExample:
    """One pair as a training example: summarize's prompt over the document (cut to `max_units` units when the
    sequence must be shorter, as encode_example cuts RAFT passages), the reference summary as the target."""

    id: str
    document: str
    target: str
    lang: str
    sentences: int
    max_units: int

    @property
    def passages(self) -> list[tuple[str, str]]:
        return [("", self.document)]

    def messages(self, max_units: int | None = None) -> list[Message]:
        return summary_messages(truncate_units(self.document, max_units or self.max_units), self.lang,
                                self.sentences)


def summary_examples(pairs: list[SummaryPair], config: Config) -> list[SummaryExample]:
    sentences = config.summarize.lengths[config.summarize.length]
    return [SummaryExample(p.id, p.document, p.target, language_of(p.document[:LANGUAGE_SAMPLE]), sentences,
                           count_units(p.document)) for p in pairs]


def supported_targets(examples: list[SummaryExample], min_support: float | None) -> list[SummaryExample]:
    """`examples` with each target cut to the sentences its document supports (summarize.train_min_support);
    an example left with none is dropped. None: the examples as given."""
    if min_support is None:
        return examples
    kept = []
    for example in examples:
        sentences = supported_sentences(example.target, example.document, min_support)
        if sentences:
            kept.append(replace(example, target=("" if example.lang == "zh" else " ").join(sentences)))
    return kept


class SummaryTask(GeneratorTask):
    """The generator task over summary examples; evaluation is ROUGE-L (0–100) of the held-out pairs' summaries,
    generated from summarize's prompt with the documents cut to train.max_length units."""

    best_metric, best_fields = "rouge_l", ("rouge_l",)
    record_extra = {"task": "summarize"}

    def evaluate(self, train_loss: float | None) -> dict[str, Any]:
        start = time.perf_counter()
        metrics = {"rouge_l": held_out_rouge_l(self.model, self.tokenizer, self.held, self.config)} if self.held \
            else {}
        self.model.train()
        return {"loss": round(train_loss, 4) if train_loss is not None else None, **metrics,
                "eval_seconds": round(time.perf_counter() - start, 2)}

    def score_parts(self, entry: dict[str, Any]) -> list[str]:
        return [f"ROUGE-L {entry['rouge_l']:.1f}"] if "rouge_l" in entry else []


def held_out_rouge_l(model, tokenizer, held: list[SummaryPair], config: Config) -> float:
    """Mean ROUGE-L (0–100) of the model's summaries of `held`, at summarize.length's token limit."""
    tokens = config.summarize.length_tokens[config.summarize.length]
    settings = config.model_copy(update={"train": config.train.model_copy(update={"eval_max_new_tokens": tokens})})
    examples = summary_examples(held, config)
    prompts = [e.messages(min(e.max_units, config.train.max_length)) for e in examples]
    with held_out_generator(model, tokenizer, settings) as generator:
        outputs = generator.generate(prompts)
    scores = [rouge_scores(o, p.summaries, e.lang)["rougeL"] for o, p, e in zip(outputs, held, examples, strict=True)]
    return round(100 * sum(scores) / max(len(scores), 1), 2)


def train_summarizer(pipeline: Pipeline, data: str | Path, out: str | Path, *, resume: bool = False,
                     progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train a generator LoRA on the (document, summary) pairs of `data` (read/summaries.py) with summarize's
    prompt at `pipeline.config`'s summarize.length. OUT is laid out as `train_generator`'s; no index is needed."""
    config = pipeline.config
    tc = config.train
    data, out = Path(data).expanduser(), Path(out).expanduser()
    check_out(out, resume)
    pairs = load_summaries(data)
    train_pairs, held = split_questions(pairs, fraction=tc.eval_fraction, size=tc.eval_size, seed=tc.seed)
    tokenizer, base, stops = training_base(config, tc.seed, tc)
    examples = summary_examples(train_pairs, config)
    kept = supported_targets(examples, config.summarize.train_min_support)
    if not kept:
        raise LoadError(data, f"no summary sentence is supported by its document at "
                              f"summarize.train_min_support {config.summarize.train_min_support}")
    encoded = [encode_example(tokenizer, e, tc.max_length, stops) for e in kept]
    model = add_lora(base, tc)
    out.mkdir(parents=True, exist_ok=True)
    task = SummaryTask(config, tokenizer, model, encoded, held, out, data, file_sha256(data))
    result = run_generator_task(task, resume=resume, progress=progress, stop_after=stop_after)
    return replace(result, skipped_unsupported=len(examples) - len(kept))
