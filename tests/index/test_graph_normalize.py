"""Entity keys: names of one entity written differently share a key; different entities do not."""

from __future__ import annotations

import pytest

from ragtune.index.graph.normalize import entity_key, predicate_key


@pytest.mark.parametrize("a, b", [
    ("Abilene,_Texas", "Abilene, Texas"),
    ("Abilene_Regional_Airport", "abilene regional airport"),
    ('"18L/36R"', "18L/36R"),
    ('"Asphalt"', "asphalt."),
    ("《甄嬛传》", "甄嬛传"),
    ("「喜剧之王」", "喜剧之王"),
    ("ＡＢＣ　电视台", "abc 电视台"),  # full width letters and space (NFKC)
    ("  周星驰 ", "周星驰"),
    ("Adolfo_Suárez_Madrid–Barajas_Airport", "Adolfo Suárez Madrid–Barajas Airport"),
    ("“Tejano”", "Tejano"),
    ("STRASSE", "straße"),  # casefold, not lower
])
def test_same_entity_same_key(a, b):
    assert entity_key(a) == entity_key(b)


def test_inner_punctuation_and_disambiguation_stay():
    assert entity_key("3,360.12") == "3,360.12"
    assert entity_key("Alcatraz_Versus_the_Evil_Librarians_(book)") == "alcatraz versus the evil librarians (book)"
    assert entity_key("(book)") == "book"
    assert entity_key("fresh果果") == "fresh果果"


@pytest.mark.parametrize("a, b", [("Austin,_Texas", "Texas"), ("李贽", "李贺"), ("18L/36R", "18R/36L")])
def test_different_entities_differ(a, b):
    assert entity_key(a) != entity_key(b)


def test_predicate_key_splits_camel_case():
    assert predicate_key("cityServed") == predicate_key("city served") == predicate_key("city_served")
    assert predicate_key("总部地点") == "总部地点"
