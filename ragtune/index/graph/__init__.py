"""The knowledge graph's storage inside an index folder: the store (store.py) and the entity keys aliases merge on
(normalize.py). Here, in the index layer, because retrieval (ask/graph_retrieval.py) reads it; what fills it — the
generator's extraction, the `graph` commands — is the application package ragtune/graph/."""
