"""The generation cache: keys, persistence, and a re-run eval that never reaches the generator."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from ragtune.errors import RagtuneWarning
from ragtune.eval.runner import evaluate
from ragtune.generate.base import Generator, Message, OnBatch
from ragtune.generate.cache import GenerationCache
from ragtune.pipeline import Pipeline
from ragtune.read.questions import Question, load_questions


class CountingGenerator(Generator):
    """Answers "<first word of the question> [1]" and counts the prompts it is asked to generate."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.prompts = 0

    def stream(self, messages: list[Message]) -> Iterator[str]:
        yield from self.generate([messages])

    def generate(self, batch: list[list[Message]], progress: bool = False, on_batch: OnBatch | None = None
                 ) -> list[str]:
        self.calls += 1
        self.prompts += len(batch)
        return [f"{m[-1]['content'].split('Question: ')[-1].split()[0]} [1]" for m in batch]


class InterruptedGenerator(CountingGenerator):
    """Reports its first batch of two, then is interrupted (Ctrl-C an hour into an eval)."""

    def generate(self, batch: list[list[Message]], progress: bool = False, on_batch: OnBatch | None = None
                 ) -> list[str]:
        first = super().generate(batch[:2])
        if on_batch is not None:
            on_batch(dict(enumerate(first)))
        raise KeyboardInterrupt


def _messages(question: str) -> list[Message]:
    return [{"role": "user", "content": question}]


def test_cache_generates_only_misses_and_persists(tmp_path):
    gen = CountingGenerator()
    cache = GenerationCache(tmp_path, "model-a", None, 96)
    batch = [_messages("Question: one"), _messages("Question: two"), _messages("Question: one")]
    assert cache.generate(batch, gen.generate) == ["one [1]", "two [1]", "one [1]"]
    assert gen.prompts == 2  # the repeated prompt is generated once
    again = GenerationCache(tmp_path, "model-a", None, 96)  # a new process: same file
    assert again.generate(batch + [_messages("Question: three")], gen.generate)[-1] == "three [1]"
    assert (gen.calls, gen.prompts, again.hits, again.misses) == (2, 3, 3, 1)
    assert (tmp_path / "generations.sqlite").stat().st_size > 0


def test_batches_finished_before_an_interruption_stay_cached(tmp_path):
    batch = [_messages(f"Question: q{i}") for i in range(5)]
    cache = GenerationCache(tmp_path, "model-a", None, 96)
    interrupted = InterruptedGenerator()
    with pytest.raises(KeyboardInterrupt):
        cache.generate(batch, lambda todo, save: interrupted.generate(todo, on_batch=save))
    gen = CountingGenerator()
    rerun = GenerationCache(tmp_path, "model-a", None, 96)
    assert rerun.generate(batch, gen.generate) == [f"q{i} [1]" for i in range(5)]
    assert (rerun.hits, rerun.misses, gen.prompts) == (2, 3, 3)  # only the unfinished three are generated again


def test_cache_key_covers_model_adapter_prompt_and_length(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(b"w")
    base = GenerationCache(tmp_path, "model-a", adapter, 96)
    key = base.key(_messages("q"))
    assert key == GenerationCache(tmp_path, "model-a", adapter, 96).key(_messages("q"))
    assert key != base.key(_messages("q2"))
    assert key != GenerationCache(tmp_path, "model-b", adapter, 96).key(_messages("q"))
    assert key != GenerationCache(tmp_path, "model-a", None, 96).key(_messages("q"))
    assert key != GenerationCache(tmp_path, "model-a", adapter, 64).key(_messages("q"))
    assert key != GenerationCache(tmp_path, "model-a", adapter, 96, "torch.float32").key(_messages("q"))
    weights.write_bytes(b"w2")  # retrained into the same folder
    assert key != GenerationCache(tmp_path, "model-a", adapter, 96).key(_messages("q"))


def test_adapter_key_follows_its_files_not_its_path(tmp_path):
    """A moved or copied adapter keeps its cached answers; a changed weight or config file does not."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    (adapter / "adapter_config.json").write_text('{"lora_alpha": 32}')
    (adapter / "ragtune.json").write_text('{"step": 1}')
    key = GenerationCache(tmp_path, "m", adapter, 96).key(_messages("q"))
    copy = tmp_path / "archive" / "adapter"
    shutil.copytree(adapter, copy)
    assert GenerationCache(tmp_path, "m", copy, 96).key(_messages("q")) == key
    (copy / "ragtune.json").write_text('{"step": 1, "note": "resumed"}')  # training metadata only
    assert GenerationCache(tmp_path, "m", copy, 96).key(_messages("q")) == key
    (copy / "adapter_config.json").write_text('{"lora_alpha": 16}')
    assert GenerationCache(tmp_path, "m", copy, 96).key(_messages("q")) != key


def test_rerun_eval_hits_the_cache(sample_pipeline, squad_sample):
    questions = load_questions(squad_sample)[:6]
    gen = CountingGenerator()
    pipeline = Pipeline(sample_pipeline.index_dir, sample_pipeline.config, embedder=sample_pipeline.embedder,
                        generator=gen, progress=False)
    first = evaluate(pipeline, questions, progress=False)
    assert gen.prompts == 6
    second = evaluate(pipeline, questions, progress=False)
    assert gen.prompts == 6 and gen.calls == 1
    assert [r.raw for r in second.records] == [r.raw for r in first.records]
    assert second.metrics["answer"] == first.metrics["answer"]
    assert set(first.metrics) == {"n", "retrieval", "answer", "grounding", "seconds", "gold_in_index", "scored_as"}
    record = first.records[0]
    assert record.raw.endswith("[1]") and record.prediction == record.raw[: -len(" [1]")]
    assert record.cited == [1] and record.sources and record.f1 is not None
    assert (sample_pipeline.config.resolved_cache_dir / "generations.sqlite").is_file()


def test_eval_records_the_answers_ask_many_gives(sample_pipeline, squad_sample):
    """eval answers through Pipeline.ask_many (plus its cache); a question nothing relevant is found for is
    answered IDK and recorded with no sources."""
    questions = load_questions(squad_sample)[:3] + [Question("none", "xyzzy qwertyuiop?", ("nothing",), {})]
    pipeline = Pipeline(sample_pipeline.index_dir, sample_pipeline.config, embedder=sample_pipeline.embedder,
                        generator=CountingGenerator(), progress=False)
    records = evaluate(pipeline, questions, progress=False).records
    asked = pipeline.ask_many([q.text for q in questions])
    assert [r.raw for r in records] == [a.answer for a in asked]
    assert [r.cited for r in records] == [a.cited for a in asked]
    assert [r.sources for r in records[:3]] == [[s.id for s in a.sources] for a in asked[:3]]
    assert records[3].raw == "I don't know" and records[3].sources == [] and asked[3].sources


def _cache_with_entries(folder, n: int = 2000) -> GenerationCache:
    cache = GenerationCache(folder, "model-a", None, 96)
    cache.put_many({cache.key(_messages(f"Question: q{i}")): f"a{i} " * 20 for i in range(n)})
    return cache


@pytest.mark.parametrize("damage", ["not a database", "truncated"])
def test_a_corrupt_cache_is_moved_aside_with_a_warning_and_rebuilt(tmp_path, damage):
    path = tmp_path / "generations.sqlite"
    if damage == "truncated":  # a copy cut short: the header promises pages that are gone
        _cache_with_entries(tmp_path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    else:
        path.write_bytes(b"garbage, not SQLite " * 500)
    broken = path.read_bytes()
    gen = CountingGenerator()
    cache = GenerationCache(tmp_path, "model-a", None, 96)
    batch = [_messages("Question: q1"), _messages("Question: fresh")]
    with pytest.warns(RagtuneWarning, match="corrupt generation cache.*moved aside to generations.sqlite.corrupt-"):
        assert cache.generate(batch, gen.generate) == ["q1 [1]", "fresh [1]"]
    [aside] = tmp_path.glob("generations.sqlite.corrupt-*")
    assert aside.read_bytes() == broken  # kept for a look, never deleted
    again = GenerationCache(tmp_path, "model-a", None, 96)
    assert again.generate(batch, gen.generate) == ["q1 [1]", "fresh [1]"] and again.hits == 2 and gen.calls == 1
