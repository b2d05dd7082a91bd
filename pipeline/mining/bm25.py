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
import shutil
from array import array
from pathlib import Path

import numpy as np
import spacy


class LanguageTokenizer:
    """spaCy blank tokenizer + lower case + stop-word removal, the BM25 view of a text."""

    def __init__(self, spacy_language: str, stop_words: list[str]):
        self.tokenizer = spacy.blank(spacy_language).tokenizer
        self.stop_words = {w.lower() for w in stop_words}
        self.key = hashlib.sha256(repr((spacy_language, sorted(self.stop_words))).encode()).hexdigest()[:12]

    @classmethod
    def for_language(cls, language, stop_words: bool = True) -> LanguageTokenizer:
        """The tokenizer of a language file (``pipeline.languages.load_language``)."""
        return cls(language.spacy, language.stop_words if stop_words else [])

    def _keep(self, doc) -> list[str]:
        words = (t.lower_.strip("'’") for t in doc if not (t.is_punct or t.is_space))
        return [w for w in words if w and w not in self.stop_words]

    def __call__(self, text: str) -> list[str]:
        return self._keep(self.tokenizer(text))

    def many(self, texts: list[str]) -> list[list[str]]:
        return [self._keep(doc) for doc in self.tokenizer.pipe(texts, batch_size=512)]


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
            tmp = folder.with_name(folder.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            self.index.save(str(tmp), show_progress=False)
            tmp.replace(folder)

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        return self.top_many([query], k)[0]

    def top_many(self, queries: list[str], k: int, batch: int = 4096) -> list[list[tuple[int, float]]]:
        """Best ``k`` passages of each query (index, score), batched through bm25s's sparse scorer."""
        k = min(k, self.size)
        out: list[list[tuple[int, float]]] = []
        for start in range(0, len(queries), batch):
            tokens = self.tokenize.many(queries[start : start + batch])
            has_terms = [bool(t) for t in tokens]
            docs, scores = self.index.retrieve([t or ["\x00none"] for t in tokens], k=k, show_progress=False,
                                               n_threads=1)
            for ok, d, s in zip(has_terms, np.asarray(docs), np.asarray(scores)):
                out.append([(int(i), float(v)) for i, v in zip(d, s) if v > 0] if ok else [])
        return out


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
