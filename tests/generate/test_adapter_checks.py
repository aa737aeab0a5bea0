"""An adapter is refused in one line: trained for another base model (before any model loads), or unloadable."""

from __future__ import annotations

import json

import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.pipeline import Pipeline

LORA = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}


def _adapter(folder, base_model: str, config: dict = LORA):
    """A generator adapter folder as `train generator` leaves it (its weights are never reached here)."""
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(config))
    (folder / "ragtune.json").write_text(json.dumps({"base_model": base_model}))
    return folder


def test_an_adapter_for_another_base_model_is_refused_before_loading_anything(tmp_path):
    adapter = _adapter(tmp_path / "smol-lora", "smollm2-135m-instruct")
    pipeline = Pipeline(tmp_path / "index", Config(), adapter=adapter, progress=False)
    with pytest.raises(RagtuneError, match="trained for generator 'smollm2-135m-instruct', but generator.name is "
                                           "'qwen2.5-0.5b-instruct'"):
        pipeline.ask("Who was Kublai Khan's grandfather?")
    with pytest.raises(RagtuneError, match="smollm2"):
        _ = pipeline.generator
    assert not any(pipeline.loaded(part) for part in ("store", "embedder", "generator"))


def test_an_adapter_for_the_configured_base_model_passes(tmp_path):
    adapter = _adapter(tmp_path / "qwen-lora", "qwen2.5-0.5b-instruct")
    assert Pipeline(tmp_path / "index", Config(), adapter=adapter).generator_adapter == adapter


@pytest.fixture(scope="module")
def tiny_model():
    """A real (randomly initialised) Qwen2 causal LM small enough to load adapters onto in a second."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    return Qwen2ForCausalLM(Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1))


@pytest.mark.parametrize(("config", "weights", "problem"), [
    ({**LORA, "target_modules": ["no_such_proj"]}, None, "Target modules"),
    (LORA, b"torn", "header"),
])
def test_what_peft_cannot_load_is_one_line_error(tmp_path, tiny_model, config, weights, problem):
    from ragtune.generate.hf import with_adapter

    adapter = _adapter(tmp_path / "lora", "qwen2.5-0.5b-instruct", config)
    if weights is not None:
        (adapter / "adapter_model.safetensors").write_bytes(weights)
    with pytest.raises(RagtuneError, match=f"cannot load this adapter onto the generator: .*{problem}") as caught:
        with_adapter(tiny_model, adapter)
    assert "\n" not in str(caught.value)
