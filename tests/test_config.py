import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("retrieval:\n  top_k: 7\ngenerator:\n  name: my/model\n")
    config = Config.load(path, **{"retrieval.top_k": 3, "retrieval.candidates": None})
    assert (config.retrieval.top_k, config.retrieval.candidates, config.generator.name) == (3, 50, "my/model")
    assert Config().retrieval.top_k == 5


def test_unknown_key_is_a_clear_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("retrieval:\n  topk: 7\n")
    with pytest.raises(RagtuneError, match=r"c.yaml: retrieval.topk"):
        Config.load(path)


def test_answer_mode_is_checked_where_it_is_set():
    assert Config().generator.answer_mode == "auto"
    assert Config.load(None, **{"generator.answer_mode": "extractive"}).generator.answer_mode == "extractive"
    with pytest.raises(RagtuneError, match="generator.answer_mode"):
        Config.load(None, **{"generator.answer_mode": "spans"})
