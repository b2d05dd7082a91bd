"""Round-trip consistency: a query is kept only if the base embedder ranks its own passage in the top k.

Passage embeddings come from the run's embedding store (pipeline/mining/embedding_store.py): a killed run resumes
where it stopped, and a rerun, a grown corpus or the mine stage encodes only passages never embedded.
"""

from __future__ import annotations

import numpy as np


def positive_ranks(query_vecs: np.ndarray, passage_vecs: np.ndarray, positive_index: np.ndarray,
                   max_scores: int = 2**25) -> np.ndarray:
    """1-based rank of each query's positive among all passages (ties count against the positive). Queries go in
    blocks of at most ``max_scores`` query-passage scores (128 MB of float32), so memory does not grow with the
    number of queries times the corpus."""
    ranks = np.empty(len(query_vecs), dtype=np.int64)
    block = max(1, min(4096, max_scores // max(len(passage_vecs), 1)))
    for start in range(0, len(query_vecs), block):
        scores = query_vecs[start : start + block] @ passage_vecs.T
        own = scores[np.arange(len(scores)), positive_index[start : start + block]]
        ranks[start : start + block] = (scores >= own[:, None]).sum(axis=1)
    return ranks
