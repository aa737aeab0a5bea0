"""A packaged generator converted once for OpenVINO GenAI, into the cache, atomically.

The packaged GGUF mixes quantisation types (Q5_0, Q4_K, Q6_K …) that OpenVINO GenAI's own GGUF reader does not
take, so its weights are re-quantised into one type the reader does (int8: Q8_0, int4: Q4_0 with Q8_0
embeddings, f16: F16); GenAI then builds its stateful model from that file and saves it as OpenVINO IR. GenAI
names the model's MatMuls after nothing a LoRA adapter knows, so each is renamed to the transformers module it
computes (`model.layers.3.self_attn.q_proj`): that is the name runtime LoRA matches a PEFT tensor against.
The folder also holds the transformers tokenizer and config (the prompts are tokenized exactly as torch does).
"""

from __future__ import annotations

import json
import shutil
from collections import deque
from pathlib import Path

from ragtune.errors import RagtuneError, first_line
from ragtune.files import atomic_dir
from ragtune.generate.packaged import PACKAGED_GENERATORS, assemble_gguf, resolve_generator_path

MARKER = "ragtune-openvino.json"
#: GGUF architectures OpenVINO GenAI's reader builds a model for
SUPPORTED_ARCHITECTURES = ("qwen2", "llama", "qwen3")
#: GGUF type of the block weights, and of the embedding and output matrices, per precision
_TYPES = {"int8": ("Q8_0", "Q8_0"), "int4": ("Q4_0", "Q8_0"), "f16": ("F16", "F16")}
_EMBEDDINGS = ("token_embd.weight", "output.weight")
#: what the transformers folder contributes: the tokenizer ragtune encodes with, config and generation config
_HF_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
             "chat_template.jinja", "special_tokens_map.json")


def genai_version() -> str:
    import openvino_genai

    return openvino_genai.__version__


def openvino_model_dir(name: str, precision: str, cache_dir: Path) -> Path:
    """The converted folder of packaged generator `name` at `precision`, made on first use (~1 minute)."""
    if precision not in _TYPES:
        raise RagtuneError(f"generator.precision {precision!r}: choose one of {', '.join(_TYPES)}")
    spec = PACKAGED_GENERATORS.get(name)
    if spec is None:
        raise RagtuneError(f"generator {name!r}: the openvino backend converts the packaged generators only "
                           f"({', '.join(PACKAGED_GENERATORS)}); use generator.backend torch")
    folder = Path(cache_dir) / "openvino" / f"{name}-{precision}"
    if _current(folder):
        return folder
    hf_dir = Path(resolve_generator_path(name, cache_dir))  # the tokenizer and config torch uses
    from rich.console import Console

    Console(stderr=True).print(f"[dim]converting packaged {name} for OpenVINO ({precision}, once) …[/dim]")
    with atomic_dir(folder) as out:
        work = out / "gguf"
        work.mkdir()
        assemble_gguf(spec, work / "packaged.gguf")
        requantize_gguf(work / "packaged.gguf", work / "model.gguf", precision)
        (work / "packaged.gguf").unlink()
        _build_ir(work / "model.gguf", out)
        for file in _HF_FILES:
            if (hf_dir / file).is_file():
                shutil.copy2(hf_dir / file, out / file)
        shutil.rmtree(work)
        (out / MARKER).write_text(json.dumps({"name": name, "precision": precision, "sha256": spec.sha256,
                                              "openvino_genai": genai_version()}, indent=2))
    return folder


def _current(folder: Path) -> bool:
    """A finished conversion by this OpenVINO GenAI version (another version may build a different graph)."""
    try:
        meta = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return meta.get("openvino_genai") == genai_version()


def requantize_gguf(source: Path, target: Path, precision: str) -> None:
    """Copy a GGUF file with every quantised tensor re-quantised to the precision's type (F32 norms and biases
    stay F32); a tensor whose rows the block size does not divide is kept in F16."""
    import gguf
    import numpy as np

    block_type, embedding_type = (gguf.GGMLQuantizationType[t] for t in _TYPES[precision])
    reader = gguf.GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    if arch not in SUPPORTED_ARCHITECTURES:
        raise RagtuneError(f"{source.name}: OpenVINO GenAI does not read GGUF architecture {arch!r}; "
                           "use generator.backend torch")
    writer = gguf.GGUFWriter(target, arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue  # written by the writer itself
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), value_type, sub_type)
    for tensor in reader.tensors:
        if tensor.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            writer.add_tensor(tensor.name, np.asarray(tensor.data, dtype=np.float32))
            continue
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        kind = embedding_type if tensor.name in _EMBEDDINGS else block_type
        if kind == gguf.GGMLQuantizationType.F16 or weights.shape[-1] % gguf.GGML_QUANT_SIZES[kind][0]:
            writer.add_tensor(tensor.name, weights.astype(np.float16))
            continue
        packed = gguf.quants.quantize(weights, kind)
        writer.add_tensor(tensor.name, packed, raw_shape=packed.shape, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _build_ir(gguf_file: Path, out: Path) -> None:
    """GenAI builds and saves the model (IR, tokenizer, detokenizer) beside the GGUF file; the IR is saved
    again into `out` with its MatMuls named, the tokenizer files moved there."""
    import openvino as ov
    import openvino_genai

    try:
        openvino_genai.LLMPipeline(str(gguf_file), "CPU", enable_save_ov_model=True)
    except RuntimeError as exc:
        raise RagtuneError(f"OpenVINO GenAI cannot build a model from {gguf_file.name}: {first_line(exc)}") from exc
    model = ov.Core().read_model(gguf_file.parent / "openvino_model.xml")
    name_linear_layers(model)
    ov.save_model(model, out / "openvino_model.xml", compress_to_fp16=False)
    for part in ("openvino_tokenizer", "openvino_detokenizer"):
        for suffix in (".xml", ".bin"):
            shutil.move(gguf_file.parent / f"{part}{suffix}", out / f"{part}{suffix}")


def name_linear_layers(model) -> int:
    """Rename each weight MatMul of a GenAI-built decoder to its transformers module name; returns how many.

    q/k/v are told apart by the ScaledDotProductAttention input they feed (query, key, value) and numbered by
    that attention's position; o_proj reads the attention's output (a Reshape); gate_proj feeds the Swish,
    up_proj the product with it, down_proj is the one whose input is the MLP width; lm_head has the vocabulary
    as its output dimension. The rest take the layer of the last attention before them in topological order.
    """
    ops = model.get_ordered_ops()
    attention = {op.get_friendly_name(): i
                 for i, op in enumerate(o for o in ops if o.get_type_name() == "ScaledDotProductAttention")}
    if not attention:
        raise RagtuneError("the OpenVINO model has no ScaledDotProductAttention: not a GenAI-built decoder")
    head = _output_projection(ops)
    hidden = head.input(1).get_source_output().get_partial_shape()[1].get_length()
    layer, named = -1, 0
    for op in ops:
        kind = op.get_type_name()
        if kind == "ScaledDotProductAttention":
            layer = attention[op.get_friendly_name()]
            continue
        if kind != "MatMul":
            continue
        weight = op.input(1).get_source_output()
        shape = weight.get_partial_shape()
        if not op.get_transpose_b() or not shape.is_static or len(shape) != 2:
            continue  # rotary embedding and attention arithmetic, not a linear layer
        in_dim = shape[1].get_length()
        consumers = {c.get_node().get_type_name() for c in op.output(0).get_target_inputs()}
        if op.get_friendly_name() == head.get_friendly_name():
            name = "lm_head"
        elif in_dim != hidden:
            name = f"model.layers.{layer}.mlp.down_proj"
        elif "Swish" in consumers:
            name = f"model.layers.{layer}.mlp.gate_proj"
        elif op.input(0).get_source_output().get_node().get_type_name() == "Reshape":
            name = f"model.layers.{layer}.self_attn.o_proj"
        else:
            found = _attention_input(op)
            if found is None:
                name = f"model.layers.{layer}.mlp.up_proj"
            else:
                node, port = found
                projection = ("q_proj", "k_proj", "v_proj")[port]
                name = f"model.layers.{attention[node.get_friendly_name()]}.self_attn.{projection}"
        op.set_friendly_name(name)
        named += 1
    return named


def _output_projection(ops):
    """lm_head: the last MatMul (the logits); its input dimension is the model's width."""
    for op in reversed(ops):
        if op.get_type_name() == "MatMul":
            return op
    raise RagtuneError("the OpenVINO model has no MatMul")


def _attention_input(op, depth: int = 24):
    """(attention node, input port) a q/k/v projection feeds, searching forward a few ops; None for the MLP."""
    seen, queue = set(), deque([(op, 0)])
    while queue:
        node, steps = queue.popleft()
        for output in node.outputs():
            for target in output.get_target_inputs():
                consumer = target.get_node()
                if consumer.get_type_name() == "ScaledDotProductAttention":
                    return consumer, target.get_index()
                if consumer.get_type_name() == "MatMul" or steps >= depth or consumer.get_friendly_name() in seen:
                    continue  # past another linear layer: this projection does not feed attention directly
                seen.add(consumer.get_friendly_name())
                queue.append((consumer, steps + 1))
    return None
