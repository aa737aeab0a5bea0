"""A short real LoRA run: it learns, it resumes exactly, and its adapter answers through Pipeline."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from lora_checks import loss_without_and_with
from safetensors.torch import load_file

from ragtune.adapters import META, PEFT_FILES
from ragtune.errors import RagtuneError
from ragtune.pipeline import Pipeline
from ragtune.read.questions import load_questions
from ragtune.train.batches import collate
from ragtune.train.checkpoint import CHECKPOINT
from ragtune.train.generator import prepare_examples, train_generator
from ragtune.train.model import add_lora, autocast, load_base, loss_sum, training_base
from ragtune.train.tokenize import encode_example, stop_token_ids


def test_run_writes_a_peft_adapter_and_its_record(trained, squad_slice):
    result, out = trained
    assert result.finished and result.step == result.total_steps == 6 and not result.stopped_early
    assert all((out / name).is_file() for name in PEFT_FILES)
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4
    meta = json.loads((out / META).read_text())
    assert meta["base_model"] == "qwen2.5-0.5b-instruct"
    assert meta["data_sha256"] == hashlib.sha256(squad_slice.read_bytes()).hexdigest()
    assert meta["examples"] == 11 and meta["eval_questions"] == 2
    # the untrained adapter is scored first (no loss yet), then every eval_every steps
    assert [h["step"] for h in meta["history"]] == [0, 6] and meta["history"][0]["loss"] is None
    assert {"em", "f1", "loss"} <= set(meta["history"][1]) and meta["history"][1]["loss"] > 0
    best = max(meta["history"], key=lambda h: h["f1"])
    assert meta["best"]["step"] == best["step"] and meta["best"]["f1"] == best["f1"]
    assert meta["config"]["train"]["max_steps"] == 6 and meta["train_seconds"] > 0 < meta["mean_step_seconds"]
    assert (out / CHECKPOINT / "state.pt").is_file()


def test_training_lowers_the_loss_on_its_slice(trained, train_pipeline, squad_slice):
    _, out = trained
    examples, _ = prepare_examples(train_pipeline, load_questions(squad_slice, answered=True))
    before, after = loss_without_and_with(train_pipeline.config, out, examples)
    assert after < 0.9 * before, (before, after)  # 2.21 -> 1.69 on the reference machine


@pytest.mark.slow  # 80 s of LoRA steps; the loop's exact resume is tested on a small net in test_loop.py, and on
# real models by the retriever's and joint trainer's resume tests
def test_resume_continues_exactly(trained, train_pipeline, squad_slice, tmp_path, monkeypatch):
    """Six steps straight == three, Ctrl-C in the middle of the fourth (after its dropout drew random numbers),
    then --resume: the checkpoint holds the state at the last step boundary."""
    import ragtune.train.generator as module

    straight, straight_out = trained
    out = tmp_path / "adapter"
    calls = []

    def interrupted(*args, **kwargs):
        result = loss_sum(*args, **kwargs)
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(module, "loss_sum", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_generator(train_pipeline, squad_slice, out, progress=False)
    monkeypatch.undo()
    assert torch.load(out / CHECKPOINT / "state.pt", weights_only=False)["step"] == 3
    # only the step-0 evaluation was published: the untrained adapter, a no-op (every LoRA B is zero)
    assert json.loads((out / META).read_text())["best"]["step"] == 0
    published = load_file(out / "adapter_model.safetensors")
    assert all(t.abs().sum() == 0 for n, t in published.items() if "lora_B" in n)
    second = train_generator(train_pipeline, squad_slice, out, resume=True, progress=False)
    assert second.finished and second.step == 6
    resumed = load_file(out / CHECKPOINT / "adapter_model.safetensors")
    reference = load_file(straight_out / CHECKPOINT / "adapter_model.safetensors")
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-7, msg=name)
    assert any(t.abs().sum() > 0 for n, t in resumed.items() if "lora_B" in n)  # it did train
    def untimed(history):
        return [{k: v for k, v in h.items() if k != "eval_seconds"} for h in history]

    assert untimed(second.history) == untimed(straight.history)


def test_out_folder_is_never_overwritten_and_resume_needs_a_checkpoint(trained, train_pipeline, squad_slice,
                                                                        tmp_path):
    _, out = trained
    with pytest.raises(RagtuneError, match="pass --resume"):
        train_generator(train_pipeline, squad_slice, out, progress=False)
    with pytest.raises(RagtuneError, match="nothing to resume"):
        train_generator(train_pipeline, squad_slice, tmp_path / "fresh", resume=True, progress=False)


def test_wrong_target_modules_is_a_config_error(train_config):
    tokenizer, base = load_base(train_config)
    bad = train_config.train.model_copy(update={"target_modules": ["no_such_proj"]})
    with pytest.raises(RagtuneError, match="target_modules"):
        add_lora(base, bad)


@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_trained_adapter_answers_through_pipeline(trained, train_pipeline, backend):
    from peft import PeftModel

    _, out = trained
    config = train_pipeline.config.model_copy(
        update={"generator": train_pipeline.config.generator.model_copy(update={"backend": backend})})
    pipeline = Pipeline(train_pipeline.index_dir, config, adapter=out, embedder=train_pipeline.embedder,
                        progress=False)
    answer = pipeline.ask("Who was Kublai Khan's grandfather?")
    assert pipeline.generator.adapter == out
    assert backend == "openvino" or isinstance(pipeline.generator.model, PeftModel)
    assert answer.answer.strip() and answer.sources


def test_frozen_base_in_bf16_with_checkpointing_still_trains_a_float32_lora(train_config, squad_slice,
                                                                          train_pipeline):
    tc = train_config.train.model_copy(update={"frozen_dtype": "bfloat16", "gradient_checkpointing": True})
    tokenizer, base, stops = training_base(train_config, 0, tc)
    assert base.dtype == torch.bfloat16 and base.is_activation_checkpointing
    model = add_lora(base, tc)
    lora = [p for p in model.parameters() if p.requires_grad]
    assert lora and all(p.dtype == torch.float32 for p in lora)
    example = prepare_examples(train_pipeline, load_questions(squad_slice)[:1])[0][0]
    row = encode_example(tokenizer, example, tc.max_length, stops)
    model.train()
    with autocast(model, True):
        loss_sum(model, *collate([row], tokenizer.pad_token_id)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in lora)
    assert any(p.grad.abs().sum() > 0 for p in lora)


def test_padding_to_a_multiple_leaves_the_loss_unchanged(train_config, squad_slice, train_pipeline):
    """pad_multiple only adds masked tokens and unscored head positions: the loss of the real tokens is the same."""
    tokenizer, base = load_base(train_config)
    stops = stop_token_ids(tokenizer, base.generation_config.eos_token_id)
    examples = prepare_examples(train_pipeline, load_questions(squad_slice)[:6])[0][:2]
    rows = [encode_example(tokenizer, e, 1024, stops) for e in examples]
    assert len({len(r) for r in rows}) == 2 and all(len(r) % 64 for r in rows)
    with torch.no_grad():
        plain = loss_sum(base, *collate(rows, tokenizer.pad_token_id)).item()
        padded = loss_sum(base, *collate(rows, tokenizer.pad_token_id, 64), multiple=64).item()
    assert plain > 0 and padded == pytest.approx(plain, rel=1e-4)
