"""Retrieval evaluation of embedders (``python -m eval.run``): local BEIR-style sets, MTEB tasks, BM25 baseline."""
