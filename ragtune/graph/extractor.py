"""Triples of many texts with a pipeline's generator: one prompt each in the text's language, generated in
batches and cached (`Pipeline.generation_cache`, as eval's answers are), parsed against the schema.

Unless `extract.decoding` is greedy ("auto" is, for an untuned model), each text gets several extractions
(samples, or the best beams of a beam search) and a triple is kept when enough of them write it (a vote,
as self-consistency's, Wang et al. 2023). A greedy pass of a small model tends to stop after the triples it is
surest of; other candidates also write the second and third rows, and the vote drops what one alone invents. The
candidates share their prompt's prefill.

What `eval --task extract`, the extraction benchmark and the training's held-out score share; a graph build can
call it over passages too.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass

from ragtune.config import Config, ExtractConfig
from ragtune.errors import RagtuneError
from ragtune.generate.base import Candidates
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


#: candidates voted on when extract.candidates is None, by decoding (what BENCHMARKS.md measured)
DEFAULT_CANDIDATES = {"sample": 5, "beam": 4}


def decoding_of(extract: ExtractConfig, adapter: object | None) -> str:
    """extract.decoding with "auto" resolved: samples voted on for a tuned extractor (`adapter`), else greedy."""
    if extract.decoding != "auto":
        return extract.decoding
    return "greedy" if adapter is None else "sample"


def candidates_of(extract: ExtractConfig, adapter: object | None) -> Candidates | None:
    """The candidates `extract:` votes among with the generator `adapter` (None: one greedy extraction a text)."""
    decoding = decoding_of(extract, adapter)
    if decoding == "greedy":
        return None
    n = extract.candidates or DEFAULT_CANDIDATES[decoding]
    if decoding == "beam":  # what only sampling reads stays at its defaults: one cache key for beams
        return Candidates(n, "beam")
    return Candidates(n, "sample", extract.temperature, extract.top_p, extract.seed)


def voting_settings(extract: ExtractConfig, adapter: object | None) -> dict | None:
    """The `extract:` settings of the vote `candidates_of` resolves (None: greedy), as a graph records them and
    applies them again: the number of candidates resolved, so a later default does not change a built graph."""
    candidates = candidates_of(extract, adapter)
    if candidates is None:
        return None
    settings = {"decoding": candidates.method, "candidates": candidates.n, "min_votes": extract.min_votes}
    if candidates.method == "sample":
        settings.update(temperature=candidates.temperature, top_p=candidates.top_p, seed=candidates.seed)
    return settings


def votes_needed(extract: ExtractConfig, candidates: Candidates) -> int:
    """Candidates that must write a triple for it to be kept: extract.min_votes, else at least half."""
    if extract.min_votes is None:
        return (candidates.n + 1) // 2
    if extract.min_votes > candidates.n:
        raise RagtuneError(f"extract.min_votes {extract.min_votes} is more than the {candidates.n} candidates "
                           f"voting: no triple could be kept")
    return extract.min_votes


def voted(candidates: list[list[Triple]], need: int) -> list[Triple]:
    """The triples at least `need` of `candidates` write (each candidate's vote counted once), in the order first
    written."""
    votes = Counter(t for found in candidates for t in set(found))
    return [t for t in dict.fromkeys(t for found in candidates for t in found) if votes[t] >= need]


@dataclass
class Extraction:
    """A text's triples and the raw output they were parsed from (voted: the candidates, one after another)."""

    triples: list[Triple]
    output: str


def parse_outputs(outputs: list[str], texts: list[str], schema: Schema | None, grounded: bool
                  ) -> list[Extraction]:
    return [Extraction(parse_triples(o, schema, text if grounded else None), o)
            for o, text in zip(outputs, texts, strict=True)]


def vote_outputs(candidates: list[list[str]], texts: list[str], schema: Schema | None, grounded: bool, need: int
                 ) -> list[Extraction]:
    """Each text's triples voted from its candidate outputs."""
    found = []
    for outputs, text in zip(candidates, texts, strict=True):
        parsed = [parse_triples(o, schema, text if grounded else None) for o in outputs]
        joined = "\n\n".join(f"[candidate {k}]\n{o}" for k, o in enumerate(outputs, 1))
        found.append(Extraction(voted(parsed, need), joined))
    return found


def extract_many(pipeline, texts: list[str], schema: Schema | None = None, progress: bool = False,
                 cache: GenerationCache | None = None) -> list[Extraction]:
    """Each text's triples from `pipeline`'s generator (whose config should come from `extract_config`), through
    `cache` (default: the pipeline's generation cache; its `misses` count the prompts generated)."""
    config = pipeline.config
    prompts = [prompt_for(t, config, schema) for t in texts]
    cache = cache or pipeline.generation_cache()
    candidates = candidates_of(config.extract, pipeline.generator_adapter)
    if candidates is None:
        def generate(todo, save):
            return pipeline.generator.generate(todo, progress=progress, on_batch=save)

        outputs = cache.generate(prompts, generate)
        return parse_outputs(outputs, texts, schema, config.extract.grounded)
    outputs = candidate_outputs(pipeline, prompts, candidates, progress, cache)
    return vote_outputs(outputs, texts, schema, config.extract.grounded, votes_needed(config.extract, candidates))


def candidate_outputs(pipeline, prompts: list, candidates: Candidates, progress: bool, cache: GenerationCache
                      ) -> list[list[str]]:
    """`candidates.n` outputs of each prompt, through `cache` (keyed by the prompt and how the candidates are
    made; a prompt's candidates are stored together, as a JSON list)."""

    def encoded(answers: dict[int, list[str]]) -> dict[int, str]:
        return {i: json.dumps(a, ensure_ascii=False) for i, a in answers.items()}

    def generate(todo, save):
        answers = pipeline.generator.candidates(todo, candidates, progress=progress,
                                                on_batch=lambda done: save(encoded(done)))
        return list(encoded(dict(enumerate(answers))).values())

    material = [{"messages": p, "candidates": asdict(candidates)} for p in prompts]
    return [json.loads(o) for o in cache.generate(prompts, generate, key_material=material)]
