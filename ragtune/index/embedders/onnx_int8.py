"""Any sentence-transformers BERT-style model, exported once to ONNX and quantised to int8 (~2-3x faster on CPU).

`<model>:int8` names it (e.g. `all-minilm-l6-v2:int8`); the export is cached under `<cache>/onnx/` and
written atomically. Recall with and without int8 is in BENCHMARKS.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from ragtune.index.embedders.base import Embedder
from ragtune.index.embedders.sentence_transformer import resolve_model_path
from ragtune.onnx_models import OnnxBert

SUFFIX = ":int8"


def _pooling(model_dir: Path) -> str:
    config = model_dir / "1_Pooling" / "config.json"
    if config.is_file() and json.loads(config.read_text()).get("pooling_mode_cls_token"):
        return "cls"
    return "mean"


def export_int8(model_dir: Path, cache_dir: Path) -> Path:
    """ONNX export + dynamic int8 quantisation of the model's transformer, once per model folder."""
    key = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:12]
    out = cache_dir / "onnx" / f"{model_dir.name}-{key}"
    if (out / "model.onnx").is_file():
        return out
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    work = out.parent / f".export-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        model = AutoModel.from_pretrained(model_dir).eval()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)

        class Hidden(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        sample = tokenizer(["an example", "a second, longer example"], return_tensors="pt", padding=True)
        names = ["input_ids", "attention_mask", "token_type_ids"]
        torch.onnx.export(Hidden(model), tuple(sample[n] for n in names), str(work / "fp32.onnx"),
                          input_names=names, output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]})
        # per-channel weights on MatMuls only: cosine to fp32 ~0.99 (per-tensor gave ~0.92 on Chinese text)
        quantize_dynamic(str(work / "fp32.onnx"), str(work / "model.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"])
        (work / "fp32.onnx").unlink()
        tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
        (work / "pooling").write_text(_pooling(model_dir))
        try:
            os.rename(work, out)
        except OSError:
            if not (out / "model.onnx").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


class OnnxInt8Embedder(Embedder):
    def __init__(self, name: str, cache_dir: Path, threads: int = 2, max_length: int = 256, **kwargs):
        super().__init__(**kwargs)
        self.name = name
        directory = export_int8(Path(resolve_model_path(name.removesuffix(SUFFIX))), Path(cache_dir))
        self.pooling = (directory / "pooling").read_text().strip()
        self.model = OnnxBert(directory, max_length=max_length, threads=threads)
        self.dim = int(self.model.session.get_outputs()[0].shape[-1] or self._encode(["x"]).shape[1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        hidden, mask = self.model.run(texts)
        if self.pooling == "cls":
            return hidden[:, 0, :]
        weights = mask[:, :, None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
