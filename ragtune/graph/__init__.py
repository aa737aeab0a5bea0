"""Knowledge graph from the corpus: triples extracted by the generator (triples.py), the predicates a schema allows
(schema.py) and the entity keys aliases merge on (normalize.py). Each module is imported by its path."""
