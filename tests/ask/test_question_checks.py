"""A question is refused, as a QuestionError, before anything is retrieved, loaded or generated for it."""

from __future__ import annotations

import pytest

from ragtune.config import Config
from ragtune.errors import QuestionError, RagtuneError
from ragtune.pipeline import Pipeline


@pytest.fixture
def pipeline(tmp_path) -> Pipeline:
    """No index at all: the question is checked before the index or any model is needed."""
    return Pipeline(tmp_path / "no-index", Config(retrieval={"max_question_chars": 40}), progress=False)


@pytest.mark.parametrize("question", ["", "   ", "\n\t \u3000"])
def test_an_empty_question_is_an_error(pipeline, question):
    for call in (pipeline.ask, pipeline.retrieve, lambda q: pipeline.request(q, []),
                 lambda q: pipeline.messages(q, [])):
        with pytest.raises(QuestionError, match="the question is empty"):
            call(question)
    assert not any(pipeline.loaded(part) for part in ("store", "embedder", "generator"))  # nothing was loaded for it


def test_a_question_over_the_configured_length_is_an_error(pipeline):
    with pytest.raises(RagtuneError, match=r"41 characters; at most 40 .*retrieval\.max_question_chars"):
        pipeline.ask("x" * 41)
    with pytest.raises(QuestionError):
        pipeline.request("长" * 41, [])
    assert Config().retrieval.max_question_chars == 2000
    assert QuestionError.exit_code == 2 and RagtuneError.exit_code == 1  # the CLI's exit status for each
