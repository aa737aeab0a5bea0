"""LoRA fine-tuning of the generator on (text, triples) pairs: the generator task's loop, loss and adapter, with
the extraction prompt as the input, format_triples as the target, and held-out triple F1 keeping the best step."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.config import Config
from ragtune.eval.triples import triple_scores
from ragtune.files import file_sha256
from ragtune.generate.base import Message
from ragtune.graph.extractor import LANGUAGE_SAMPLE, configured_schema, parse_outputs, prompt_for
from ragtune.graph.schema import Schema
from ragtune.graph.triples import format_triples
from ragtune.pipeline import Pipeline
from ragtune.read.triples import Triple, TripleExample, load_triples
from ragtune.text import count_units, language_of
from ragtune.train.checkpoint import check_out
from ragtune.train.examples import split_questions
from ragtune.train.generator import GeneratorTask, TrainResult, run_generator_task
from ragtune.train.model import add_lora, held_out_generator, training_base
from ragtune.train.tokenize import encode_example


@dataclass
class ExtractExample:
    """One text as a training example: the extraction prompt over it (cut to `max_units` units when the sequence
    must be shorter, as encode_example cuts RAFT passages), its gold triples one per line as the target."""

    id: str
    text: str
    target: str
    lang: str
    max_units: int
    schema: Schema | None
    config: Config

    @property
    def passages(self) -> list[tuple[str, str]]:
        return [("", self.text)]

    def messages(self, max_units: int | None = None) -> list[Message]:
        extract = self.config.extract.model_copy(update={"max_text_units": max_units or self.max_units})
        return prompt_for(self.text, self.config.model_copy(update={"extract": extract}), schema=self.schema)


def extract_examples(examples: list[TripleExample], config: Config, schema: Schema | None
                     ) -> list[ExtractExample]:
    """Every text of every example (a WebNLG entry's paraphrases too), its gold triples (on-schema ones, in
    order, without duplicates) as the target."""
    out = []
    for e in examples:
        triples = [t for t in dict.fromkeys(e.triples) if schema is None or schema.allows(t.predicate)]
        for i, text in enumerate((e.text, *e.other_texts)):
            ordered = in_text_order(triples, text) if config.extract.target_order == "text" else triples
            out.append(ExtractExample(f"{e.id}#{i}" if i else e.id, text, format_triples(ordered),
                                      language_of(text[:LANGUAGE_SAMPLE]),
                                      min(count_units(text), config.extract.max_text_units), schema, config))
    return out


def in_text_order(triples: list[Triple], text: str) -> list[Triple]:
    """`triples` sorted by where the subject, then the object, first appears in `text` (a name the text does not
    contain sorts last; ties keep the given order). Datasets list a sentence's triples in no particular order
    (DuIE: 216 of 332 training sentences with several triples); reading order is one the model can learn."""
    folded = text.casefold()

    def first(name: str) -> int:
        at = folded.find(name.replace("_", " ").casefold())
        return at if at >= 0 else len(text)

    return sorted(triples, key=lambda t: (first(t.subject), first(t.object)))


class ExtractTask(GeneratorTask):
    """The generator task over extraction examples; evaluation is the held-out texts' micro triple F1 (exact,
    0–100; the normalised F1 is logged beside it)."""

    best_metric, best_fields = "triple_f1", ("triple_f1", "triple_f1_norm")
    record_extra = {"task": "extract"}

    def __init__(self, *args, schema: Schema | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema = schema

    def evaluate(self, train_loss: float | None) -> dict[str, Any]:
        start = time.perf_counter()
        metrics = held_out_f1(self.model, self.tokenizer, self.held, self.config, self.schema) if self.held else {}
        self.model.train()
        return {"loss": round(train_loss, 4) if train_loss is not None else None, **metrics,
                "eval_seconds": round(time.perf_counter() - start, 2)}

    def score_parts(self, entry: dict[str, Any]) -> list[str]:
        if "triple_f1" not in entry:
            return []
        return [f"triple F1 {entry['triple_f1']:.1f} (normalised {entry['triple_f1_norm']:.1f})"]


def held_out_f1(model, tokenizer, held: list[TripleExample], config: Config, schema: Schema | None
                ) -> dict[str, float]:
    """Micro triple F1 (0–100), exact and normalised, of the model's extractions from `held`'s first texts."""
    settings = config.model_copy(update={"train": config.train.model_copy(
        update={"eval_max_new_tokens": config.extract.max_new_tokens})})
    texts = [e.text for e in held]
    with held_out_generator(model, tokenizer, settings) as generator:
        outputs = generator.generate([prompt_for(t, config, schema) for t in texts])
    found = parse_outputs(outputs, texts, schema, config.extract.grounded)
    scores = triple_scores([f.triples for f in found], [e.triples for e in held])
    return {"triple_f1": scores["f1"], "triple_f1_norm": scores["f1_norm"]}


def train_extractor(pipeline: Pipeline, data: str | Path, out: str | Path, *, resume: bool = False,
                    progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train a generator LoRA on the (text, triples) examples of `data` (read/triples.py) with the extraction
    prompt (extract.schema_file's predicates listed when one is set). OUT is laid out as `train_generator`'s; no
    index is needed."""
    config = pipeline.config
    tc = config.train
    data, out = Path(data).expanduser(), Path(out).expanduser()
    check_out(out, resume)
    schema = configured_schema(config)
    examples = load_triples(data)
    train_examples, held = split_questions(examples, fraction=tc.eval_fraction, size=tc.eval_size, seed=tc.seed)
    tokenizer, base, stops = training_base(config, tc.seed, tc)
    encoded = [encode_example(tokenizer, e, tc.max_length, stops)
               for e in extract_examples(train_examples, config, schema)]
    model = add_lora(base, tc)
    out.mkdir(parents=True, exist_ok=True)
    task = ExtractTask(config, tokenizer, model, encoded, held, out, data, file_sha256(data), schema=schema)
    return run_generator_task(task, resume=resume, progress=progress, stop_after=stop_after)
