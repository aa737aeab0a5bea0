"""Answer candidates `synth` picks before asking for a question, and the cloze questions that stand in."""

from __future__ import annotations

from ragtune.synth.answer_spans import Span, answer_spans, asks_for_other_kind, cloze_question


def texts(sentence: str, lang: str, max_units: int = 12) -> list[str]:
    return [span.text for span in answer_spans(sentence, lang, max_units)]


def test_chinese_numbers_dates_names_and_titles():
    assert answer_spans("它于1889年3月31日由古斯塔夫·埃菲尔设计建成，高324米。", "zh", 12) == [
        Span("1889年3月31日", "date"), Span("古斯塔夫·埃菲尔", "person"), Span("324米", "number")]
    spans = texts("《红楼梦》是曹雪芹所著的长篇小说，成书于清代。", "zh")
    assert {"红楼梦", "曹雪芹"} <= set(spans)
    assert "长篇小说" not in spans
    assert texts("他排行第三，一名村民目下如下。", "zh") == []  # a lone numeral or time word is no answer
    # a name glued to a lone character is most likely cut from a longer word by jieba: 元|山岛, 天皇|杯
    assert texts("包括主岛六横岛及附近的佛渡岛、元山岛、凉潭岛等。", "zh") == ["佛渡岛", "凉潭岛"]
    assert texts("飞翼夺得天皇杯冠军。", "zh") == []
    # Latin names in Chinese text are answers, plain English words are not
    assert texts("于1986年在FC平台上发售，不讲价值(non-valuing and individualizing)。", "zh") == ["1986年", "FC"]


def test_english_dates_quantities_and_names_not_sentence_openers():
    assert answer_spans("It was completed on March 31, 1889 for the World's Fair, and is 324 metres tall.",
                        "en", 12) == [Span("March 31, 1889", "date"), Span("324 metres", "number"),
                                      Span("World's Fair", "name")]
    assert texts("The University of Notre Dame enrolled 8,462 students.", "en") == [
        "8,462 students", "University of Notre Dame"]
    assert texts('She released "Crazy in Love" in June 2003.', "en") == ["Crazy in Love", "June 2003"]
    assert texts("However, the idea was rejected by everyone.", "en") == []
    # quotes pair up in order (a closing quote opens nothing); a possessive is not part of the name
    quotes = ('It spoke of "metaphors from the popular culture of the day, its films and songs" and related to '
              '"immediate risks" to the Earth\'s ozone.')
    assert texts(quotes, "en") == ["immediate risks", "Earth"]


def test_spans_are_short_and_not_part_of_a_longer_one():
    sentence = "Paris hosted the Exposition Universelle of 1889 in May 1889, with 32,250,297 visitors."
    assert texts(sentence, "en") == ["May 1889", "32,250,297", "Exposition Universelle"]
    assert texts(sentence, "en", 3) == ["May 1889", "Exposition Universelle"]  # the number is 5 units
    long_name = "It was opened by the Prime Minister of the United Kingdom of Great Britain and Northern Ireland."
    assert texts(long_name, "en") == ["Prime Minister of the United Kingdom of Great Britain and Northern Ireland"]
    assert texts(long_name, "en", 8) == []


def test_cloze_questions_ask_the_sentence_about_the_span():
    zh = "它于1889年3月31日由古斯塔夫·埃菲尔设计建成，高324米。"
    asked = {span.text: cloze_question(zh, span, "zh", "埃菲尔铁塔") for span in answer_spans(zh, "zh", 12)}
    assert asked == {
        "1889年3月31日": "埃菲尔铁塔于什么时候由古斯塔夫·埃菲尔设计建成，高324米？",  # the pronoun becomes the title
        "古斯塔夫·埃菲尔": "埃菲尔铁塔于1889年3月31日由谁设计建成，高324米？",
        "324米": "埃菲尔铁塔于1889年3月31日由古斯塔夫·埃菲尔设计建成，高多少米？",  # the unit stays
    }
    title = Span("红楼梦", "title")
    # the title marks go with the title
    assert cloze_question("《红楼梦》是曹雪芹所著的小说。", title, "zh") == "哪部作品是曹雪芹所著的小说？"
    en = "In 2015 the University of Notre Dame enrolled 8,462 students and earned $1.2 billion."
    assert cloze_question(en, Span("2015", "date"), "en") == (
        "When the University of Notre Dame enrolled 8,462 students and earned $1.2 billion?")
    assert cloze_question(en, Span("8,462 students", "number"), "en") == (
        "In 2015 the University of Notre Dame enrolled how many students and earned $1.2 billion?")
    assert cloze_question(en, Span("$1.2 billion", "number"), "en").endswith("students and earned how much?")
    assert cloze_question(en, Span("University of Notre Dame", "name"), "en").startswith("In 2015 what enrolled")


def test_a_question_asking_for_another_kind_of_answer_is_told_apart():
    place, year, person = Span("Paris", "name"), Span("1889", "date"), Span("曹雪芹", "person")
    assert asks_for_other_kind("In what year was the tower moved to Paris?", place, "en")
    assert not asks_for_other_kind("In what year was the tower completed?", year, "en")
    assert asks_for_other_kind("How many visitors came in 1889?", place, "en")
    assert not asks_for_other_kind("Which city is the tower in?", place, "en")
    assert asks_for_other_kind("《红楼梦》成书于哪一年？", person, "zh")
    assert not asks_for_other_kind("《红楼梦》是谁写的？", person, "zh")
    assert asks_for_other_kind("《红楼梦》是谁写的？", Span("1791年", "date"), "zh")
    assert not asks_for_other_kind("《红楼梦》印了多少年？", Span("200年", "date"), "zh")
