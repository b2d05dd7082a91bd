"""Fine-tune a sentence-transformers embedder on the toolkit's retrieval triplets (``python -m training.train``)."""
