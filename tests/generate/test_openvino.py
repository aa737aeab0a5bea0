"""The OpenVINO backend against torch: the same greedy tokens on a fixed prompt, with and without a PEFT LoRA
applied at runtime, and an adapter switched off and on again is exact (the real packaged model, converted once).
Exactness is checked at precision f16 (float32 arithmetic) against torch float32; int8 is the default's speed/
quality trade, measured on whole eval sets in BENCHMARKS.md, not token by token."""

from __future__ import annotations

import json

import pytest
import torch

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate import create_generator, resolve_backend
from ragtune.generate.base import Candidates
from ragtune.generate.hf import HFGenerator
from ragtune.generate.openvino import OpenVINOGenerator, adapter_problem, lora_scale

PROMPT = [
    {"role": "system", "content": "Answer from the passages, briefly, citing [n]."},
    {"role": "user", "content": "[1] 《战国无双3》是由光荣和ω-force开发的战国无双系列的正统第三续作。"
     "本作以三大故事为主轴，分别是以武田信玄等人为主的《关东三国志》，织田信长等人为主的《战国三杰》，石田三成等人为主的《关原的年轻武者》。"
     "\n\n问题：《战国无双3》是由哪两个公司合作开发的？"},
]
ENGLISH = [{"role": "user", "content": "In one word: what is the capital of France?"}]


def _config(**generator) -> Config:
    return Config().model_copy(update={"generator": Config().generator.model_copy(update=generator)})


@pytest.fixture(scope="module")
def torch_generator() -> HFGenerator:
    config = _config(dtype="float32", max_new_tokens=24, backend="torch")
    return HFGenerator.load(config.generator, config.resolved_cache_dir)


@pytest.fixture(scope="module")
def openvino_f16() -> OpenVINOGenerator:
    return create_generator(_config(max_new_tokens=24, precision="f16"))


@pytest.fixture(scope="module")
def lora_folder(tmp_path_factory, torch_generator):
    """A real PEFT LoRA on q/k/v/o with small random weights (seeded): it changes the answer, like a tuned one."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    settings = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                          init_lora_weights=False)
    model = get_peft_model(torch_generator.model, settings)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.mul_(0.1)
    folder = tmp_path_factory.mktemp("lora")
    model.save_pretrained(folder)
    model.unload()  # the base model back as it was, for the other tests
    return folder


def _torch_answer(torch_generator, adapter=None) -> str:
    if adapter is None:
        return torch_generator.generate([PROMPT])[0]
    from peft import PeftModel

    model = PeftModel.from_pretrained(torch_generator.model, str(adapter)).eval()
    try:
        return HFGenerator(model, torch_generator.tokenizer, torch_generator.config).generate([PROMPT])[0]
    finally:
        model.unload()


def test_auto_picks_openvino_where_it_serves_and_torch_elsewhere():
    assert resolve_backend(Config()) == "openvino"
    assert resolve_backend(_config(answer_mode="extractive")) == "torch"  # constrained decoding
    assert resolve_backend(_config(name="some/hf-model")) == "torch"
    with pytest.raises(RagtuneError, match="packaged generators only"):
        resolve_backend(_config(name="some/hf-model", backend="openvino"))


def test_base_model_decodes_the_tokens_torch_decodes(torch_generator, openvino_f16):
    generator = openvino_f16
    assert isinstance(generator, OpenVINOGenerator)
    answer = generator.generate([PROMPT, ENGLISH])
    assert answer[0] == _torch_answer(torch_generator) and "光荣" in answer[0]
    assert "Paris" in answer[1]
    assert "".join(generator.stream(PROMPT)).strip() == answer[0]


def test_prompt_lookup_drafts_from_the_passages_and_keeps_the_greedy_answer(openvino_f16):
    plain = create_generator(_config(max_new_tokens=24, precision="f16", prompt_lookup=0))
    answers, steps = {}, {}
    for generator in (plain, openvino_f16):
        decoder = generator.decoder()
        before = decoder.steps
        stream = decoder.submit(PROMPT)  # the answer quotes its passage
        answers[generator.lookup] = "".join(stream)
        steps[generator.lookup] = (decoder.steps - before, stream.tokens)
    assert openvino_f16.lookup and not plain.lookup
    assert answers[True] == answers[False] and "光荣" in answers[True]
    (plain_steps, tokens), (drafted_steps, _) = steps[False], steps[True]
    assert plain_steps >= tokens > 10 and drafted_steps < tokens / 2  # most tokens came in drafts the model kept


def test_int8_answers_the_same_questions(torch_generator):
    answers = create_generator(_config(max_new_tokens=24)).generate([PROMPT, ENGLISH])
    assert "光荣" in answers[0] and "ω-force" in answers[0] and "Paris" in answers[1]


def test_runtime_lora_equals_torch_peft_and_switches_exactly(torch_generator, lora_folder):
    import openvino_genai as genai

    assert adapter_problem(lora_folder) is None and lora_scale(lora_folder) == 2.0
    generator = create_generator(_config(max_new_tokens=24, precision="f16"), adapter=lora_folder)
    tuned = generator.generate([PROMPT])[0]
    base = _torch_answer(torch_generator)
    assert tuned == _torch_answer(torch_generator, lora_folder) and tuned != base
    adapters = generator._adapters
    generator._adapters = genai.AdapterConfig()  # off: the next batch runs without it
    assert generator.generate([PROMPT])[0] == base
    generator._adapters = adapters
    assert generator.generate([PROMPT])[0] == tuned  # on again


def test_both_backends_give_beams_and_samples_and_the_same_best_beam(torch_generator):
    openvino = create_generator(_config(max_new_tokens=24, precision="f16"))
    assert openvino.lookup and openvino._decoder is None and openvino._plain_decoder is None  # built on first use
    beams = {}
    for generator in (torch_generator, openvino):
        beams[generator] = generator.candidates([PROMPT, ENGLISH], Candidates(3))
        assert [len(b) for b in beams[generator]] == [3, 3] and len(set(beams[generator][0])) == 3
        sampling = Candidates(3, "sample", temperature=1.0, seed=1)
        drawn = generator.candidates([PROMPT, ENGLISH], sampling)
        assert [len(answers) for answers in drawn] == [3, 3] and all(a for answers in drawn for a in answers)
        assert len(set(drawn[0])) > 1, type(generator)  # samples, not one greedy answer three times
        assert generator.candidates([PROMPT, ENGLISH], sampling) == drawn  # the seed draws them again
    assert beams[openvino][0][0] == beams[torch_generator][0][0]  # best first, as torch ranks them
    assert openvino._decoder is None  # candidates alone never built the prompt-lookup pipeline
    assert "Paris" in openvino.generate([ENGLISH])[0]  # greedy requests decode as before beside the others


def test_adapters_runtime_lora_cannot_apply_exactly_are_named(tmp_path, lora_folder):
    peft = json.loads((lora_folder / "adapter_config.json").read_text())
    for change, reason in (({"use_dora": True}, "DoRA"), ({"target_modules": ["q_proj", "lm_head"]}, "lm_head"),
                           ({"alpha_pattern": {"q_proj": 4}}, "per-module")):
        folder = tmp_path / reason
        folder.mkdir()
        (folder / "adapter_config.json").write_text(json.dumps({**peft, **change}))
        assert reason in adapter_problem(folder)
        assert resolve_backend(Config(), folder) == "torch"


def test_conversion_names_each_linear_layer_once():
    import openvino as ov
    from transformers import AutoConfig

    from ragtune.generate.openvino_export import openvino_model_dir

    config = Config()
    folder = openvino_model_dir(config.generator.name, "int8", config.resolved_cache_dir)
    names = [op.get_friendly_name() for op in ov.Core().read_model(folder / "openvino_model.xml").get_ops()
             if op.get_type_name() == "MatMul"]
    modules = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
               "mlp.up_proj", "mlp.down_proj"]
    for layer in range(AutoConfig.from_pretrained(folder).num_hidden_layers):
        for module in modules:
            assert names.count(f"model.layers.{layer}.{module}") == 1, (layer, module)
    assert names.count("lm_head") == 1
