"""Decontamination: find generated queries and passages that overlap evaluation sets (word n-grams).

An evaluation set is a BEIR-style folder (``corpus.jsonl`` with ``text``/``title``, ``queries.jsonl`` with
``text``). A passage sharing any ``ngram``-word sequence with an evaluation passage is removed from the corpus
(with its queries); a query sharing any ``query_ngram``-word sequence with an evaluation query, or equal to one
after normalization, is dropped. Query n-grams made mostly of stop words are not evidence: "qual è il nome del" or
"che cosa ha fatto il" open thousands of unrelated questions, so a query n-gram counts only when it holds at least
``query_min_content_words`` words outside the language's stop words, and only when fewer than ``query_template_count``
evaluation queries share it (an n-gram common to many evaluation queries is a question template, not one item's
content, so it leaks nothing about any of them).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from datatrove.utils.text import ngrams

from pipeline.errors import InputDataError
from pipeline.filtering.rules import normalized, words
from retrieval.beir import read_jsonl


def _read_jsonl_texts(path: Path) -> list[str]:
    """Title and text of each record (retrieval/beir.py reads the file)."""
    return [" ".join(filter(None, [r.get("title"), r.get("text")])) for r in read_jsonl(path)]


class EvalOverlapIndex:
    """N-gram index of one or more evaluation sets.

    Example::

        index = EvalOverlapIndex(["../shared/eval/squad_it_test"], ngram=8, query_ngram=5)
        index.query_overlaps("in che anno è stata fondata la città di Roma")
    """

    def __init__(self, folders: list[str], ngram: int = 8, query_ngram: int = 5,
                 stop_words: set[str] | frozenset[str] = frozenset(), query_min_content_words: int = 0,
                 query_template_count: int | None = None):
        self.ngram, self.query_ngram = ngram, query_ngram
        self.stop_words, self.min_content = frozenset(stop_words), query_min_content_words
        self.passage_grams: set[tuple[str, ...]] = set()
        query_gram_counts: Counter[tuple[str, ...]] = Counter()
        self.exact_queries: set[str] = set()
        for folder in folders:
            root = Path(folder)
            corpus, queries = root / "corpus.jsonl", root / "queries.jsonl"
            if not corpus.is_file() or not queries.is_file():
                raise InputDataError(f"evaluation set {root} needs corpus.jsonl and queries.jsonl (BEIR layout); "
                                     "fix filter.decontamination.eval_sets")
            for text in _read_jsonl_texts(corpus):
                self.passage_grams |= set(ngrams(words(text), ngram))
            for text in _read_jsonl_texts(queries):
                self.exact_queries.add(normalized(text))
                query_gram_counts.update(self._query_grams(text))
        self.query_grams = {gram for gram, count in query_gram_counts.items()
                            if query_template_count is None or count < query_template_count}

    def passage_overlaps(self, text: str) -> bool:
        return not self.passage_grams.isdisjoint(ngrams(words(text), self.ngram))

    def _query_grams(self, text: str) -> set[tuple[str, ...]]:
        return {gram for gram in ngrams(words(text), self.query_ngram)
                if sum(w not in self.stop_words for w in gram) >= self.min_content}

    def query_overlaps(self, text: str) -> bool:
        return normalized(text) in self.exact_queries or not self.query_grams.isdisjoint(self._query_grams(text))
