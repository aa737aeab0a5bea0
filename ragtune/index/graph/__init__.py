"""The knowledge graph's storage beside an index, wherever the index lives (store.py picks sqlite.py for a folder,
postgresql.py for a postgresql:// index), and the entity keys aliases merge on (normalize.py). Here, in the index
layer, because retrieval (ask/graph_retrieval.py) reads it; what fills it — the generator's extraction, the `graph`
commands — is the application package ragtune/graph/."""
