"""Hard-negative mining helpers: corpus index, cached embeddings, dense and BM25 candidates, guard, LLM judge."""
