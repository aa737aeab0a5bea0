"""Triples of many texts with a pipeline's generator: one prompt each in the text's language, generated in
batches and cached (`Pipeline.generation_cache`, as eval's answers are), parsed against the schema.

What `eval --task extract`, the extraction benchmark and the training's held-out score share; a graph build can
call it over passages too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragtune.config import Config
from ragtune.generate.cache import GenerationCache
from ragtune.graph.schema import Schema, load_schema
from ragtune.graph.triples import Triple, extraction_messages, parse_triples
from ragtune.text import language_of, truncate_units

#: characters of a text its language is judged from
LANGUAGE_SAMPLE = 2000


def extract_config(config: Config) -> Config:
    """`config` with generator.max_new_tokens from extract.max_new_tokens (the cache key follows it)."""
    generator = config.generator.model_copy(update={"max_new_tokens": config.extract.max_new_tokens})
    return config.model_copy(update={"generator": generator})


def configured_schema(config: Config) -> Schema | None:
    return load_schema(config.extract.schema_file) if config.extract.schema_file else None


def prompt_for(text: str, config: Config, schema: Schema | None) -> list:
    """The extraction prompt of `text`, cut to extract.max_text_units, in its own language."""
    lang = language_of(text[:LANGUAGE_SAMPLE])
    return extraction_messages(truncate_units(text, config.extract.max_text_units), lang, schema)


@dataclass
class Extraction:
    """A text's triples and the raw output they were parsed from."""

    triples: list[Triple]
    output: str


def parse_outputs(outputs: list[str], texts: list[str], schema: Schema | None, grounded: bool
                  ) -> list[Extraction]:
    return [Extraction(parse_triples(o, schema, text if grounded else None), o)
            for o, text in zip(outputs, texts, strict=True)]


def extract_many(pipeline, texts: list[str], schema: Schema | None = None, progress: bool = False,
                 cache: GenerationCache | None = None) -> list[Extraction]:
    """Each text's triples from `pipeline`'s generator (whose config should come from `extract_config`), through
    `cache` (default: the pipeline's generation cache; its `misses` count the prompts generated)."""
    config = pipeline.config
    prompts = [prompt_for(t, config, schema) for t in texts]

    def generate(todo, save):
        return pipeline.generator.generate(todo, progress=progress, on_batch=save)

    outputs = (cache or pipeline.generation_cache()).generate(prompts, generate)
    return parse_outputs(outputs, texts, schema, config.extract.grounded)
