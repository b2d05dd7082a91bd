"""Lexical candidates with BM25 (``rank-bm25``) over the language's tokenization.

Tokens: spaCy's blank tokenizer for the language (no model download), lower-cased, elision apostrophes trimmed
(``l'acqua`` -> ``l``, ``acqua``), punctuation, spaces and the language file's stop words removed.

Example:
    >>> index = Bm25Index(["Il fiume Secchia ha rotto gli argini", "La partita è finita"], language)
    >>> index.top("argini Secchia", k=1)
    [(0, 1.2...)]
"""

from __future__ import annotations

import numpy as np
import spacy
from rank_bm25 import BM25Okapi


class LanguageTokenizer:
    """spaCy blank tokenizer + lower case + stop-word removal, the BM25 view of a text."""

    def __init__(self, spacy_language: str, stop_words: list[str]):
        self.tokenizer = spacy.blank(spacy_language).tokenizer
        self.stop_words = {w.lower() for w in stop_words}

    def _keep(self, doc) -> list[str]:
        words = (t.lower_.strip("'’") for t in doc if not (t.is_punct or t.is_space))
        return [w for w in words if w and w not in self.stop_words]

    def __call__(self, text: str) -> list[str]:
        return self._keep(self.tokenizer(text))

    def many(self, texts: list[str]) -> list[list[str]]:
        return [self._keep(doc) for doc in self.tokenizer.pipe(texts, batch_size=512)]


class Bm25Index:
    """BM25Okapi over a list of texts; ``top`` returns the best matches with a positive score, best first."""

    def __init__(self, texts: list[str], tokenizer: LanguageTokenizer):
        self.tokenize = tokenizer
        tokens = tokenizer.many(texts)
        # rank-bm25 divides by the mean length: an all-stop-word corpus would divide by zero
        self.bm25 = BM25Okapi(tokens if any(tokens) else [["<empty>"]] * len(tokens))

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        terms = self.tokenize(query)
        if not terms:
            return []
        scores = self.bm25.get_scores(terms)
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(i), float(scores[i])) for i in best if scores[i] > 0]
