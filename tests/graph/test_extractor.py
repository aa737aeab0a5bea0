"""Voting over candidate extractions (beams or samples): a triple is kept when enough candidates write it, in the
order first written, each candidate voting once; outputs are the packaged model's kind (DuIE rows)."""

from __future__ import annotations

import pytest

from ragtune.config import Config
from ragtune.errors import RagtuneError
from ragtune.generate.base import Candidates
from ragtune.graph.extractor import candidates_of, vote_outputs, voted, votes_needed
from ragtune.graph.triples import Triple


def extract(**settings):
    return Config().extract.model_copy(update=settings)


def test_half_the_candidates_is_the_default_vote_and_more_than_all_is_an_error():
    tuned = "an-adapter"
    assert candidates_of(extract(decoding="greedy"), tuned) is None  # one extraction, no vote
    assert candidates_of(extract(), None) is None  # auto: an untuned model's candidates write one fact differently
    assert candidates_of(extract(), tuned) == Candidates(5, "sample", 0.7, 0.95, 0)  # auto, tuned: 5 samples
    assert candidates_of(extract(decoding="beam"), None) == Candidates(4, "beam")
    assert [votes_needed(extract(), Candidates(n)) for n in (2, 3, 4, 5)] == [1, 2, 2, 3]
    assert votes_needed(extract(min_votes=1), Candidates(5)) == 1
    with pytest.raises(RagtuneError, match="min_votes 6 is more than the 5 candidates"):
        votes_needed(extract(min_votes=6), Candidates(5))
    sampled = candidates_of(extract(decoding="sample", candidates=3, temperature=0.5, seed=3), None)
    assert (sampled.method, sampled.n, sampled.temperature, sampled.seed) == ("sample", 3, 0.5, 3)


def test_a_triple_needs_its_votes_and_one_candidate_votes_once():
    a, b, c = Triple("周杰伦", "出生地", "台湾"), Triple("周杰伦", "国籍", "中国"), Triple("台湾", "出生地", "周杰伦")
    samples = [[a, b, a], [b], [a, c], [c, a]]
    assert voted(samples, 3) == [a]  # a candidate writing `a` twice still votes once
    assert voted(samples, 2) == [a, b, c]  # in the order first written
    assert voted(samples, 5) == []


def test_candidate_outputs_are_parsed_voted_and_kept_for_the_report():
    text = "《东风破》是周杰伦演唱的歌曲，由方文山作词。"
    outputs = ['["东风破", "歌手", "周杰伦"]\n["东风破", "作词", "方文山"]',
               '["东风破", "歌手", "周杰伦"]',
               '["东风破", "歌手", "周杰伦"]\n["东风破", "作曲", "林夕"]']
    found = vote_outputs([outputs], [text], None, grounded=True, need=2)[0]
    assert [(t.subject, t.predicate, t.object) for t in found.triples] == [("东风破", "歌手", "周杰伦")]
    assert found.output.count("[candidate ") == 3 and "林夕" in found.output
