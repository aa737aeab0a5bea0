"""ask: retrieval (dense + BM25, fused) and the prompt the generator answers from."""
