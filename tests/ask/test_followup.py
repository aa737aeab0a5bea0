"""Follow-ups made standalone from the generator's named subject (the generator's reply given here)."""

from __future__ import annotations

from ragtune.ask import followup

ZH = [{"role": "user", "content": "泡泡战士是哪家公司开发的？"}, {"role": "assistant", "content": "Nexon [1]"}]
EN = [{"role": "user", "content": "Who designed the Sydney Opera House?"},
      {"role": "assistant", "content": "Utzon [1]"}]


def test_the_subject_takes_the_pronouns_place_or_goes_before_the_question():
    assert followup.standalone("它在中国大陆由谁运营？", ZH, "泡泡战士") == "泡泡战士在中国大陆由谁运营？"
    assert followup.standalone("在中国大陆由谁运营？", ZH, "泡泡战士") == "泡泡战士在中国大陆由谁运营？"
    assert followup.standalone("When did it open?", EN, "the Sydney Opera House") == \
        "When did the Sydney Opera House open?"
    assert followup.standalone("Who paid for its roof?", EN, "the Sydney Opera House") == \
        "Who paid for the Sydney Opera House's roof?"
    assert followup.standalone("How many people work there?", EN, "the Sydney Opera House") == \
        "How many people work in the Sydney Opera House?"
    assert followup.standalone("Who built the roof?", EN, "the Sydney Opera House") == \
        "the Sydney Opera House: Who built the roof?"


def test_a_reply_that_is_not_a_name_falls_back_to_the_concatenation():
    concatenated = "Who designed the Sydney Opera House?\nWhen did it open?"
    for reply in ("", "The conversation is about\nseveral things", "x" * 200):
        assert followup.standalone("When did it open?", EN, reply) == concatenated
    assert followup.standalone("When did the Sydney Opera House open?", EN, "the Sydney Opera House") == \
        "When did the Sydney Opera House open?"  # already names it


def test_the_prompt_shows_the_last_exchange_without_citations():
    messages = followup.subject_messages("它在中国大陆由谁运营？", ZH)
    assert messages[-1]["content"] == "用户: 泡泡战士是哪家公司开发的？\n助手: Nexon"
    assert messages[0]["role"] == "system" and "名称" in messages[0]["content"]
    assert not followup.needs_rewrite([]) and followup.needs_rewrite(ZH)


def test_a_chinese_subject_named_in_part_is_widened_to_the_name_in_the_earlier_question():
    history = [{"role": "user", "content": "广茂铁路全长多少公里？"}, {"role": "assistant", "content": "约354公里 [1]"}]
    assert followup.standalone("它由哪家公司管理运营？", history, "铁路") == "广茂铁路由哪家公司管理运营？"
    history[0]["content"] = "锣鼓经是什么？"
    assert followup.standalone("它常用的节奏型称为什么？", history, "鼓") == "锣鼓经常用的节奏型称为什么？"
    history[0]["content"] = "故宫位于哪个城市？"
    assert followup.standalone("那里有多少人？", history, "故宫") == "故宫有多少人？"


def test_a_subject_the_conversation_never_mentions_falls_back_to_the_concatenation():
    concatenated = "Who designed the Sydney Opera House?\nWhen did it open?"
    assert followup.standalone("When did it open?", EN, "the Eiffel Tower") == concatenated  # the prompt's example
    assert followup.standalone("When did it open?", EN, "The sydney  opera house") == \
        "When did The sydney  opera house open?"  # case, spacing and the article aside, it was named
    assert followup.standalone("Where was he born?", EN, "Utzon") == "Where was Utzon born?"  # named in the answer
    history = [{"role": "user", "content": "固始站隶属于什么公司？"}, {"role": "assistant", "content": "国铁 [1]"}]
    assert followup.standalone("它位于哪里？", history, "固定站") == "固始站隶属于什么公司？\n它位于哪里？"
    assert followup.standalone("它位于哪里？", history, "固始站") == "固始站位于哪里？"
    history[0]["content"] = "涞滩镇隶属于哪个城市？"  # 隶属 starts the predicate: the name is not widened over 隶
    assert followup.standalone("它的面积是多少？", history, "镇") == "涞滩镇的面积是多少？"
