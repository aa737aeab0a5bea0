"""Answer modes: extractive (constrained decoding) with the real generator, and how a mode is chosen."""

from __future__ import annotations

import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.answerers import AnswerRequest, create_answerer, resolve_mode
from ragtune.generate.answerers.extractive import ExtractiveAnswerer
from ragtune.pipeline import Pipeline

REQUEST = AnswerRequest("长城有多长？", [("长城", "长城位于中国北方，总长度约21196千米。"), ("故宫", "故宫位于北京。")])


def _no_generator():
    raise AssertionError("citing a span needs no model")


def test_a_span_is_cited_with_the_first_passage_that_holds_it():
    answerer = ExtractiveAnswerer(Config(), _no_generator)
    assert answerer.cite(REQUEST, " 约21196千米 [") == "约21196千米 [1]"
    assert answerer.cite(REQUEST, "位于") == "位于 [1]" and answerer.cite(REQUEST, "位于北京") == "位于北京 [2]"
    assert answerer.cite(REQUEST, "故宫") == "故宫 [2]"  # the title, as the prompt shows it
    assert answerer.cite(REQUEST, "我不知道") == "我不知道" and answerer.cite(REQUEST, " 【") == "我不知道"


def test_auto_is_the_reader_only_when_one_is_given(tmp_path):
    assert resolve_mode("auto", None) == "generative" and resolve_mode("auto", tmp_path) == "reader"
    assert create_answerer(Config(), _no_generator, mode="extractive").mode == "extractive"
    with pytest.raises(RagtuneError, match="answer_mode 'spans'"):
        resolve_mode("spans", None)


@pytest.fixture(scope="module")
def extractive(demo_pipeline) -> Pipeline:
    config = Config(generator={"answer_mode": "extractive"})  # constrained decoding: the torch backend
    pipeline = Pipeline(demo_pipeline.index_dir, config, embedder=demo_pipeline.embedder, progress=False)
    assert pipeline.generator_backend == "torch"
    return pipeline


@pytest.mark.parametrize("question", ["海梅·雷耶斯哪家漫画公司的虚拟人物？",
                                      "When did Khan formally declare the Yuan dynasty?"])
def test_extractive_answers_are_verbatim_spans_of_the_cited_passage(extractive, question):
    pieces: list[str] = []
    answer = extractive.ask(question, on_token=pieces.append)
    span, _, mark = answer.answer.rpartition(" [")
    assert answer.cited and mark == f"{answer.cited[0]}]"
    source = answer.sources[answer.cited[0] - 1].passage
    assert span and span in f"{source.title}: {source.text}"
    assert "".join(pieces).strip() == answer.answer  # the stream shows the span, then the citation
    request = extractive.request(question, answer.sources)
    assert extractive.answerer.answer([request]) == [answer.answer]  # batched eval gives what ask streamed
