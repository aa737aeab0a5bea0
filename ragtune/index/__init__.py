"""index: the persistent passage store, its embedders, vector indexes and BM25."""
