from ragtune.generate.citations import cited_numbers, strip_citations


def test_cited_numbers_handles_lists_fullwidth_and_out_of_range():
    assert cited_numbers("巴黎 [2]【1】 and [1, 3] also [9]", 5) == [2, 1, 3]
    assert cited_numbers("no markers", 5) == []


def test_strip_citations_leaves_the_bare_answer():
    assert strip_citations("1889 [1].") == "1889."
    assert strip_citations("约21196千米 [1][2]") == "约21196千米"
