"""What every mined query shares (built once per stage, then by each task from the caches it left on disk)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.mining.bm25 import Bm25Index
from pipeline.mining.embeddings import EmbeddingCache


@dataclass
class MiningTools:
    model: object  # a SentenceTransformer
    cache: EmbeddingCache  # where mine_hard_negatives finds the corpus (and each shard's query) embeddings
    corpus_embeddings: np.ndarray  # one L2-normalized row per corpus text
    bm25: Bm25Index | None  # None for method: dense
