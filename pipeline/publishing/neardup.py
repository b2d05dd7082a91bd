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
from pathlib import Path

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import _mersenne_prime as MERSENNE_PRIME  # its universal hashing modulus
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.chunk_tokens import chunked_word_tokenizer

SIGNATURE_BATCH = 128  # texts hashed together: ~25k shingles x 125 hashes, ~25 MB per temporary


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
        self.num_values = self.bands * rows  # the signature's length
        config = MinhashConfig(n_grams=shingle_words, num_buckets=self.bands, hashes_per_bucket=rows, seed=seed)
        self._step = MinhashDedupSignature(tempfile.gettempdir(), config=config, language=datatrove_language)
        self._step.word_tokenizer = chunked_word_tokenizer(self._step.word_tokenizer)  # same tokens, ~100x faster

    def signature(self, text: str) -> np.ndarray | None:
        """The signature (bands*rows values), or None for a text without words (it duplicates nothing)."""
        shingles = self._shingles(text)
        if shingles is None:
            return None
        return np.concatenate([np.asarray(b, dtype=np.uint64) for b in self._step.get_signature(shingles)])

    def signatures(self, texts: list[str]) -> list[np.ndarray | None]:
        return [self.signature(t) for t in texts]

    def signature_arrays(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(values, valid) of ``texts``: the same values as ``signature`` (a row of zeros and valid False for a text
        without words), hashed for many texts at once. datatrove's ``get_signature`` runs a few numpy operations
        per text and converts the result to Python lists: at a million passages that overhead, not the hashing,
        was most of the split's time (0.47 of its 0.59 ms per passage)."""
        values = np.zeros((len(texts), self.num_values), dtype=np.uint64)
        valid = np.zeros(len(texts), dtype=bool)
        shingles = []
        for i, text in enumerate(texts):
            if (found := self._shingles(text)) is not None:
                shingles.append(found)
                valid[i] = True
        rows = np.flatnonzero(valid)
        for start in range(0, len(rows), SIGNATURE_BATCH):
            part = shingles[start : start + SIGNATURE_BATCH]
            values[rows[start : start + SIGNATURE_BATCH]] = self._minima(part)
        return values, valid

    def _shingles(self, text: str) -> np.ndarray | None:
        """The text's hashed shingles, shape (n, 1); None for a text without words."""
        shingles = self._step.get_shingles(text)
        if shingles.size == 0:  # shorter than one shingle: the whole word sequence is its only shingle
            words = self._step.word_tokenizer.word_tokenize(text.lower())
            if not words:
                return None
            shingles = np.array([[self._step._hash_func(" ".join(words))]], dtype=np.uint64)
        return shingles.reshape(-1, 1)

    def _minima(self, shingles: list[np.ndarray]) -> np.ndarray:
        """Per text, the minimum of each universal hash over its shingles: datatrove's ``get_signature`` formula
        (same parameters, precision and dtype) applied to the shingles of many texts stacked together."""
        a, b = self._step.parameters
        hash_config = self._step.config.hash_config
        starts = np.cumsum([0] + [len(s) for s in shingles[:-1]])
        phv = (np.concatenate(shingles) * a + b) % MERSENNE_PRIME
        if hash_config.precision == 32:
            phv = np.bitwise_and(phv, hash_config.max)
        return np.minimum.reduceat(phv, starts, axis=0).astype(hash_config.np_dtype).astype(np.uint64)


def near_duplicate_pairs(signatures: list[np.ndarray | None], bands: int, threshold: float) -> list[tuple[int, int]]:
    """Index pairs (i < j) of near-duplicate texts: sharing an LSH band and agreeing on >= threshold of hashes."""
    table = SignatureTable(len(signatures), next((len(s) for s in signatures if s is not None), 0))
    table.add(signatures)
    return table.pairs(bands, threshold)


def signature_arrays(signatures: list[np.ndarray | None], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid) arrays of a list of signatures (None: a text without words, a row of zeros)."""
    values = np.zeros((len(signatures), width), dtype=np.uint64)
    valid = np.zeros(len(signatures), dtype=bool)
    for i, sig in enumerate(signatures):
        if sig is not None:
            values[i], valid[i] = sig[:width], True
    return values, valid


class SignatureTable:
    """MinHash signatures of a stream of texts, added batch by batch, and the near-duplicate pairs among them.

    Signatures go to a memory-mapped file when ``path`` is given (one row of ``num_values`` uint64 per text), so
    memory holds only the band keys (``bands`` uint64 per text) and the candidate pairs. Candidates are found per
    band by sorting the band keys, not through a dictionary of band contents: at a million texts a dictionary of
    25 bands' byte strings takes gigabytes, a sorted uint64 array 8 MB per band.
    """

    def __init__(self, size: int, num_values: int, path: Path | None = None):
        self.size, self.num_values, self.count = size, num_values, 0
        shape = (max(size, 1), max(num_values, 1))
        self.values = (np.lib.format.open_memmap(path, mode="w+", dtype=np.uint64, shape=shape) if path
                       else np.zeros(shape, dtype=np.uint64))
        self.valid = np.zeros(size, dtype=bool)

    def add(self, signatures: list[np.ndarray | None]) -> None:
        """Append the next texts' signatures (None: a text without words, which duplicates nothing)."""
        self.add_array(*signature_arrays(signatures, self.num_values))

    def add_array(self, values: np.ndarray, valid: np.ndarray) -> None:
        """Append signatures already in array form (a task's shard: one row per text, ``valid`` False for none)."""
        n = len(valid)
        if n and self.num_values:  # no values at all: every text was without words
            self.values[self.count:self.count + n, : self.num_values] = values[:, : self.num_values]
            self.valid[self.count:self.count + n] = valid
        self.count += n

    def pairs(self, bands: int, threshold: float) -> list[tuple[int, int]]:
        """Sorted index pairs (i < j) sharing a band and agreeing on >= ``threshold`` of the hash values."""
        rows = self.num_values // bands
        index = np.flatnonzero(self.valid[: self.count])
        if rows == 0 or len(index) < 2:
            return []
        # one uint64 key per band: a multiply-add over the band's values (equal bands give equal keys; a chance
        # collision of unequal bands only adds a candidate, which the agreement check below then rejects)
        mult = np.random.default_rng(0).integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
        candidates: set[tuple[int, int]] = set()
        for band in range(bands):
            with np.errstate(over="ignore"):
                keys = (self.values[index, band * rows:(band + 1) * rows] * mult).sum(axis=1, dtype=np.uint64)
            order = np.argsort(keys, kind="stable")
            ordered = keys[order]
            starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
            ends = np.append(starts[1:], len(ordered))
            for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
                members = sorted(index[order[start:end]].tolist())
                candidates.update((a, b) for k, a in enumerate(members) for b in members[k + 1:])
        found = sorted(candidates)
        kept = []
        for chunk in range(0, len(found), 100_000):
            pairs = np.array(found[chunk:chunk + 100_000], dtype=np.int64)
            agree = (self.values[pairs[:, 0]] == self.values[pairs[:, 1]]).mean(axis=1) >= threshold
            kept.extend((int(a), int(b)) for a, b in pairs[agree])
        return kept


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
