"""Near-duplicate passages (MinHash over word shingles, LSH banding) and the document groups they tie together.

Shingling and signatures are datatrove's own (``MinhashDedupSignature.get_shingles`` / ``get_signature``: the
language's word tokenizer, text normalization, universal hashing), used in memory: datatrove's MinHash *stages*
remove duplicates through files on disk, while the split needs the duplicate pairs themselves. Candidate pairs
share one LSH band; a pair counts when its signature agreement (the Jaccard estimate) reaches the threshold.
Documents joined by such pairs form one group (connected components, scipy's union-find equivalent).

Example:
    >>> news = "Il Secchia ha rotto gli argini a nord di Modena nella notte di domenica e l'acqua ha invaso i campi"
    >>> texts = [news + ".", news + " vicini.", "La partita tra Modena e Reggiana è finita in parità."]
    >>> hasher = MinHasher("ita_Latn", shingle_words=5, num_hashes=128, threshold=0.7)
    >>> pairs = near_duplicate_pairs(hasher.signatures(texts), hasher.bands, 0.7)
    >>> pairs, document_groups(["d1", "d2", "d3"], pairs)   # passage i belongs to document i
    ([(0, 1)], {'d1': 'd1', 'd2': 'd1', 'd3': 'd3'})
"""

from __future__ import annotations

import tempfile
from collections import defaultdict

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def lsh_bands(num_hashes: int, threshold: float, recall: float = 0.95) -> tuple[int, int]:
    """(bands, rows per band): the most selective banding that still pairs ``recall`` of the pairs at the
    threshold (P(candidate) = 1 - (1 - s^rows)^bands).

    >>> lsh_bands(128, 0.7)
    (25, 5)
    """
    best = (num_hashes, 1)
    for rows in range(1, num_hashes + 1):
        bands = num_hashes // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            best = (bands, rows)
    return best


class MinHasher:
    """MinHash signatures of texts with datatrove's shingling (word n-grams of normalized text)."""

    def __init__(self, datatrove_language: str, shingle_words: int, num_hashes: int, threshold: float,
                 seed: int = 1):
        self.bands, rows = lsh_bands(num_hashes, threshold)
        config = MinhashConfig(n_grams=shingle_words, num_buckets=self.bands, hashes_per_bucket=rows, seed=seed)
        self._step = MinhashDedupSignature(tempfile.gettempdir(), config=config, language=datatrove_language)

    def signature(self, text: str) -> np.ndarray | None:
        """The signature (bands*rows values), or None for a text without words (it duplicates nothing)."""
        shingles = self._step.get_shingles(text)
        if shingles.size == 0:  # shorter than one shingle: the whole word sequence is its only shingle
            words = self._step.word_tokenizer.word_tokenize(text.lower())
            if not words:
                return None
            shingles = np.array([[self._step._hash_func(" ".join(words))]], dtype=np.uint64)
        return np.concatenate([np.asarray(b, dtype=np.uint64) for b in self._step.get_signature(shingles)])

    def signatures(self, texts: list[str]) -> list[np.ndarray | None]:
        return [self.signature(t) for t in texts]


def near_duplicate_pairs(signatures: list[np.ndarray | None], bands: int, threshold: float) -> list[tuple[int, int]]:
    """Index pairs (i < j) of near-duplicate texts: sharing an LSH band and agreeing on >= threshold of hashes."""
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, sig in enumerate(signatures):
        if sig is not None:
            for band, values in enumerate(np.split(sig, bands)):
                buckets[(band, values.tobytes())].append(i)
    candidates = {(a, b) for members in buckets.values() if len(members) > 1
                  for k, a in enumerate(members) for b in members[k + 1:]}
    return sorted((a, b) for a, b in candidates if np.mean(signatures[a] == signatures[b]) >= threshold)


def document_groups(doc_of: list[str], pairs: list[tuple[int, int]]) -> dict[str, str]:
    """doc_id -> group id (the smallest doc_id of its group); passages ``i``/``j`` of a pair tie their documents."""
    docs = sorted(set(doc_of))
    index = {d: i for i, d in enumerate(docs)}
    rows = [index[doc_of[a]] for a, _ in pairs]
    cols = [index[doc_of[b]] for _, b in pairs]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(docs), len(docs)))
    _, labels = connected_components(graph, directed=False)
    first: dict[int, str] = {}
    for doc in docs:  # sorted, so the first doc seen per label is the smallest
        first.setdefault(labels[index[doc]], doc)
    return {doc: first[labels[index[doc]]] for doc in docs}
