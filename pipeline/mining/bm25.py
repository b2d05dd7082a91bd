"""BM25 (``bm25s``: sparse-matrix scoring, batch retrieval) over the language's tokenization: the one BM25 of the
project, used by mining, by the filter's round-trip judge and by eval's BM25 baseline.

Tokens: spaCy's blank tokenizer for the language (no model download), lower-cased, elision apostrophes trimmed
(``l'acqua`` -> ``l``, ``acqua``), punctuation, spaces and (optionally) the language file's stop words removed.
``bm25s`` scores with Lucene's BM25 (k1 1.5, b 0.75). ``benchmarks/bm25.py`` compares it with ``rank-bm25`` (which
scans the whole corpus in Python for every query) on the same corpus and queries.

Example:
    >>> tokenizer = LanguageTokenizer("it", stop_words=["il", "la", "gli", "ha", "è"])
    >>> tokenizer("L'acqua del Secchia ha rotto gli argini.")
    ['l', 'acqua', 'del', 'secchia', 'rotto', 'argini']
    >>> index = Bm25Index(["Il fiume Secchia ha rotto gli argini", "La partita è finita"], tokenizer)
    >>> index.top("argini Secchia", k=1)
    [(0, 0.48...)]
"""

from __future__ import annotations

import hashlib
from array import array
from pathlib import Path

import numpy as np
import spacy

from pipeline.atomic import atomic_path
from pipeline.chunk_tokens import ChunkCache, SpacyChunkTokens, splits_on_whitespace


class LanguageTokenizer:
    """spaCy blank tokenizer + lower case + stop-word removal, the BM25 view of a text.

    Tokens are computed per space-separated chunk and memoized (pipeline/chunk_tokens.py: the same tokens as
    tokenizing each text, several times faster on a corpus) where the language's tokenizer allows it."""

    def __init__(self, spacy_language: str, stop_words: list[str]):
        self.nlp = spacy.blank(spacy_language)
        self.tokenizer = self.nlp.tokenizer
        self.stop_words = {w.lower() for w in stop_words}
        self.key = hashlib.sha256(repr((spacy_language, sorted(self.stop_words))).encode()).hexdigest()[:12]
        self._chunked = ChunkCache(_Bm25ChunkTokens(self.nlp, self.stop_words)) if splits_on_whitespace(self.nlp) \
            else None

    @classmethod
    def for_language(cls, language, stop_words: bool = True) -> LanguageTokenizer:
        """The tokenizer of a language file (``pipeline.languages.load_language``)."""
        return cls(language.spacy, language.stop_words if stop_words else [])

    def _keep(self, doc) -> list[str]:
        words = (_bm25_word(t) for t in doc)
        return [w for w in words if w and w not in self.stop_words]

    def __call__(self, text: str) -> list[str]:
        return self._chunked(text) if self._chunked else self._keep(self.tokenizer(text))

    def many(self, texts: list[str]) -> list[list[str]]:
        if self._chunked:
            return [self._chunked(text) for text in texts]
        return [self._keep(doc) for doc in self.tokenizer.pipe(texts, batch_size=512)]


def _bm25_word(token) -> str | None:
    """A token as BM25 sees it: lower case, elision apostrophes trimmed; None for punctuation and spaces."""
    return None if token.is_punct or token.is_space else token.lower_.strip("'’")


class _Bm25ChunkTokens(SpacyChunkTokens):
    def __init__(self, nlp, stop_words: set[str]):
        super().__init__(nlp)
        self.stop_words = stop_words

    def keep(self, token) -> str | None:
        word = _bm25_word(token)
        return word if word and word not in self.stop_words else None


class Bm25Index:
    """BM25 over a list of texts; ``top``/``top_many`` return the best matches with a positive score, best first.

    With ``cache_dir`` (the run's ``bm25/`` folder) the index is saved with bm25s's own ``save`` under a key of the
    tokenizer and the exact texts, and loaded instead of built when the filter's judge and mine (or a rerun) index
    the same corpus: tokenizing is most of the cost (spaCy, ~2 ms per passage)."""

    def __init__(self, texts: list[str], tokenizer: LanguageTokenizer, cache_dir: str | Path | None = None):
        import bm25s

        self.tokenize = tokenizer
        self.size = len(texts)
        folder = _cache_folder(texts, tokenizer, cache_dir) if cache_dir else None
        if folder is not None and (folder / "params.index.json").is_file():
            self.index = bm25s.BM25.load(str(folder), show_progress=False)
            return
        self.index = bm25s.BM25()
        self.index.index(token_ids(texts, tokenizer), show_progress=False)
        if folder is not None:
            with atomic_path(folder) as tmp:
                self.index.save(str(tmp), show_progress=False)

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        return self.top_many([query], k)[0]

    def top_many(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        """Best ``k`` passages of each query (index, score), best first; equal scores by passage index."""
        out: list[list[tuple[int, float]]] = []
        if k <= 0:
            return [[] for _ in queries]
        for scores in self._score_batches(queries):
            for row in range(scores.shape[0]):
                lo, hi = scores.indptr[row], scores.indptr[row + 1]
                docs, values = scores.indices[lo:hi], scores.data[lo:hi]
                if len(values) > k:
                    best = np.argpartition(-values, k - 1)[:k]
                    cut = values[best].min()  # keep every tie at the cut, so the order below decides among them
                    best = np.flatnonzero(values >= cut)
                    docs, values = docs[best], values[best]
                order = np.lexsort((docs, -values))[:k]
                out.append([(int(docs[i]), float(values[i])) for i in order if values[i] > 0])
        return out

    def positive_ranks(self, queries: list[str], positives: np.ndarray, depth: int) -> np.ndarray:
        """1-based rank of each query's positive among all passages, ties counting against it (as the dense
        judge counts); ``depth + 1`` when it ranks below ``depth`` or shares no term with its query."""
        positives = np.asarray(positives)
        ranks = np.empty(len(queries), dtype=np.int64)
        start = 0
        for scores in self._score_batches(queries):
            n = scores.shape[0]
            row_of = np.repeat(np.arange(n), np.diff(scores.indptr))
            own = np.zeros(n, dtype=scores.dtype)
            is_positive = scores.indices == positives[start : start + n][row_of]
            own[row_of[is_positive]] = scores.data[is_positive]
            ahead = np.bincount(row_of, weights=scores.data >= own[row_of], minlength=n).astype(np.int64)
            ranks[start : start + n] = np.where((own > 0) & (ahead <= depth), ahead, depth + 1)
            start += n
        return ranks

    def _score_batches(self, queries: list[str], batch: int = 4096, max_postings: int = 20_000_000):
        """Each query's scores as a sparse row over the passages that share a term with it, for ``batch`` queries at
        a time (fewer when their posting lists together pass ``max_postings``, which bounds memory).

        Written here because bm25s's ``retrieve`` fills a dense array over every passage and selects its top k for
        each query: cost proportional to the corpus *per query*, so a run whose queries grow with its passages is
        quadratic (14 ms a query at 100k passages). A sparse product (query terms x posting lists, scipy) touches
        only the passages holding a query term; it sums the same precomputed bm25s scores."""
        import scipy.sparse as sp

        postings = self._postings()
        lengths = np.diff(postings.indptr)
        for start in range(0, len(queries), batch):
            rows = [[self.vocab[t] for t in tokens if t in self.vocab]
                    for tokens in self.tokenize.many(queries[start : start + batch])]
            cost = np.cumsum([int(lengths[r].sum()) for r in rows])
            first = 0
            while first < len(rows):
                budget_end = (cost[first - 1] if first else 0) + max_postings
                last = max(first + 1, int(np.searchsorted(cost, budget_end, side="right")))
                chunk = rows[first:last]
                terms = sp.csr_matrix((np.ones(sum(map(len, chunk)), dtype=np.float32),
                                       np.fromiter((t for r in chunk for t in r), dtype=np.int64),
                                       np.concatenate([[0], np.cumsum([len(r) for r in chunk])])),
                                      shape=(len(chunk), postings.shape[0]))
                yield (terms @ postings).tocsr()
                first = last

    def _postings(self):
        """bm25s's precomputed scores (CSC over token ids) as a terms x passages CSR matrix, built once."""
        cached = getattr(self, "_posting_matrix", None)
        if cached is None or cached[0] is not self.index:
            import scipy.sparse as sp

            scores = self.index.scores
            if getattr(self.index, "nonoccurrence_array", None) is not None:
                raise ValueError(f"BM25 variant {self.index.method!r} scores passages without the query's terms; "
                                 "the sparse scorer supports the default (lucene)")
            self._posting_matrix = (self.index, sp.csr_matrix((scores["data"], scores["indices"], scores["indptr"]),
                                                              shape=(len(scores["indptr"]) - 1, scores["num_docs"])))
        return self._posting_matrix[1]

    @property
    def vocab(self) -> dict[str, int]:
        return self.index.vocab_dict


def token_ids(texts: list[str], tokenizer: LanguageTokenizer, batch: int = 2_000) -> tuple[list[array], dict]:
    """(per-passage token ids, vocabulary): bm25s's ``(ids, vocab)`` input, tokenized ``batch`` passages at a time.

    Written here because bm25s's own path from tokens keeps every passage's list of token *strings* until the index
    is built (~9 KB per passage, gigabytes at a million passages); ids in int32 arrays take ~0.6 KB. The vocabulary
    numbering differs from bm25s's (its order is a set's), which changes no score. An all-stop-word passage still
    needs a row: it gets a placeholder token no query can hold."""
    vocab: dict[str, int] = {}
    ids = []
    for start in range(0, len(texts), batch):
        for tokens in tokenizer.many(texts[start:start + batch]):
            ids.append(array("i", [vocab.setdefault(t, len(vocab)) for t in tokens or ["\x00empty"]]))
    return ids, vocab


def _cache_folder(texts: list[str], tokenizer: LanguageTokenizer, cache_dir: str | Path) -> Path:
    key = hashlib.sha256(tokenizer.key.encode())
    for text in texts:
        key.update(text.encode())
        key.update(b"\0")
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return Path(cache_dir) / key.hexdigest()[:16]
