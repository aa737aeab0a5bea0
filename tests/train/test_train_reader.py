"""`train reader`: a span head on the real generator's hidden states, trained a few steps on a real SQuAD slice,
then used by ask and eval as answer mode "reader"."""

from __future__ import annotations

import json

import pytest
import torch

from ragtune.adapters import READER, inspect_adapter
from ragtune.config import Config
from ragtune.generate.span_reader import best_spans, encode_pair, token_span
from ragtune.pipeline import Pipeline
from ragtune.train.reader import shared_norm_loss

PASSAGE = "The Eiffel Tower in Paris was completed in 1889, two years after work began."


@pytest.fixture(scope="module")
def reader_config(train_config) -> Config:
    """Four layers, LoRA in the top two, four steps: seconds on 2 cores."""
    return train_config.model_copy(update={"train_reader": train_config.train_reader.model_copy(update={
        "layers": 4, "lora_layers": 2, "max_steps": 4, "batch_size": 2, "eval_size": 3, "max_passage_tokens": 128,
        "distractor_tokens": 48, "lora_rank": 4, "lora_alpha": 8, "head_lr": 1e-2})})


@pytest.fixture(scope="module")
def reader_run(tmp_path_factory, train_pipeline, reader_config, squad_slice):
    from ragtune.train.reader import train_reader

    pipeline = Pipeline(train_pipeline.index_dir, reader_config, embedder=train_pipeline.embedder, progress=False)
    out = tmp_path_factory.mktemp("reader") / "reader"
    return train_reader(pipeline, squad_slice, out, progress=False), out


def test_encoded_answer_positions_cover_the_answer(tokenizer):
    start = PASSAGE.index("1889")
    pair = encode_pair(tokenizer, "When was the Eiffel Tower completed?", "Eiffel", PASSAGE, 64,
                       keep_chars=(start, start + 4))
    first, last = token_span(pair, start, start + 4)
    assert pair.passage_start <= first <= last < len(pair)
    assert tokenizer.decode(pair.input_ids[first : last + 1]).strip() == "1889"
    # a window shorter than the passage still holds the answer
    short = encode_pair(tokenizer, "When?", "", PASSAGE, 6, keep_chars=(start, start + 4))
    assert len(short.offsets) == 6 and token_span(short, start, start + 4) is not None


def test_best_span_respects_order_length_and_passage_mask():
    start = torch.tensor([[9.0, 1.0, 0.0, 5.0, 0.0, 0.0]])
    end = torch.tensor([[9.0, 0.0, 4.0, 0.0, 0.0, 3.0]])
    passage = torch.tensor([[False, True, True, True, True, True]])  # position 0 is the question
    (span,) = best_spans(start, end, passage, max_answer_tokens=3)
    assert (span.start, span.end) == (3, 5) and span.score == pytest.approx(8.0)  # not (0, 0), not end < start
    (longer,) = best_spans(start, end, passage, max_answer_tokens=2)
    assert (longer.start, longer.end) == (1, 2)  # 3..5 is three tokens: too long now


def test_shared_normalisation_spans_the_questions_passages():
    start = torch.zeros((2, 4), requires_grad=True)
    end = torch.zeros((2, 4), requires_grad=True)
    passage = torch.tensor([[False, True, True, True], [False, True, True, True]])
    loss = shared_norm_loss(start, end, passage, [([0, 1], 2, 3)])
    assert loss.item() == pytest.approx(2 * torch.log(torch.tensor(6.0)).item())  # 6 passage positions, uniform
    loss.backward()
    assert start.grad[1, 1:].gt(0).all() and start.grad[0, 2] < 0  # the distractor's positions are pushed down


def test_a_reader_folder_is_recognised_and_records_its_run(reader_run):
    result, out = reader_run
    meta = json.loads((out / "ragtune.json").read_text())
    assert meta["kind"] == "reader" and meta["layers"] == 4 and meta["steps"] == result.steps == 4
    assert inspect_adapter(out).kind == READER
    held = result.heldout["questions"]  # at most a tenth of the data: eval_size 3 is cut to 1 of 13 questions
    assert held == min(3, (result.examples + held) // 10) == 1 and meta["retrieval_fit"]["questions"] == held
    assert meta["retrieval_fit"]["weight"] in (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0)
    assert {"adapter_model.safetensors", "reader_head.safetensors"} <= {p.name for p in out.iterdir()}


def test_ask_and_eval_with_a_reader_answer_verbatim_cited_spans(reader_run, train_pipeline, reader_config,
                                                                 squad_slice):
    from ragtune.eval.runner import evaluate
    from ragtune.read.questions import load_questions

    _, out = reader_run
    pipeline = Pipeline(train_pipeline.index_dir, reader_config, adapter=out, embedder=train_pipeline.embedder,
                        progress=False)
    assert pipeline.answerer.mode == "reader" and pipeline.generator_adapter is None  # "auto" picks the reader
    answer = pipeline.ask("Who was Kublai Khan's grandfather?")
    span = answer.answer.rsplit(" [", 1)[0]
    assert answer.cited and span and span in answer.sources[answer.cited[0] - 1].passage.text
    result = evaluate(pipeline, load_questions(squad_slice)[:4], progress=False)
    texts: dict[str, list[str]] = {}
    for passage in pipeline.store.passages:
        texts.setdefault(passage.id, []).append(passage.text)
    for record in result.records:
        cited = record.sources[record.cited[0] - 1]
        assert any(record.prediction in text for text in texts[cited]), record
    assert result.metrics["grounding"]["grounded"] == 100.0
