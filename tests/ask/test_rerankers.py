from ragtune.ask.rerankers import create_reranker


def test_cross_encoder_prefers_the_answering_passage():
    reranker = create_reranker("ms-marco-minilm-l12-int8")
    scores = reranker.scores("When was the Eiffel Tower completed?", [
        "The Eiffel Tower is a landmark in Paris.",
        "Construction of the Eiffel Tower finished in March 1889.",
        "Bananas are rich in potassium.",
    ])
    assert scores.argmax() == 1 and scores.argmin() == 2
    assert reranker.languages == {"en"}


def test_none_disables_reranking():
    assert create_reranker("none") is None
