"""Every packaged embedder puts a question nearest its answer passage (real weights, no mocks)."""

import numpy as np
import pytest

from ragtune.config import EmbedderConfig
from ragtune.index.embedders import create_embedder

PASSAGES = [
    "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "长城是中国古代的军事防御工程，总长度超过两万千米。",
]


@pytest.fixture(scope="module")
def export_cache(tmp_path_factory):
    """One cache folder for the module, so the int8 ONNX export is made once, not once per test."""
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("name,queries", [
    ("use-multilingual", {"When was the Eiffel Tower finished?": 0, "长城有多长？": 2, "How do plants use light?": 1}),
    ("bge-small-en", {"When was the Eiffel Tower finished?": 0, "How do plants use light?": 1}),
    ("all-minilm-l6-v2:int8", {"When was the Eiffel Tower finished?": 0, "How do plants use light?": 1}),
])
def test_question_is_nearest_its_passage(name, queries, export_cache, embedder):
    model = embedder if name == "use-multilingual" else create_embedder(EmbedderConfig(name=name), export_cache)
    passages = model.encode_passages(PASSAGES)
    vectors = model.encode_queries(list(queries))
    assert passages.shape == (3, model.dim) and np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    assert list((vectors @ passages.T).argmax(axis=1)) == list(queries.values())


def test_int8_export_stays_close_to_the_fp32_model(export_cache):
    fp32 = create_embedder(EmbedderConfig(name="all-minilm-l6-v2"))
    int8 = create_embedder(EmbedderConfig(name="all-minilm-l6-v2:int8"), export_cache)
    cosines = (fp32.encode_passages(PASSAGES) * int8.encode_passages(PASSAGES)).sum(axis=1)
    assert cosines.min() > 0.95
    assert any(p.name == "model.onnx" for p in (export_cache / "onnx").rglob("*"))
