"""Decontamination: find generated queries and passages that overlap evaluation sets (word n-grams).

An evaluation set is a BEIR-style folder (``corpus.jsonl`` with ``text``/``title``, ``queries.jsonl`` with
``text``). A passage sharing any ``ngram``-word sequence with an evaluation passage is removed from the corpus
(with its queries); a query sharing any ``query_ngram``-word sequence with an evaluation query, or equal to one
after normalization, is dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import InputDataError
from pipeline.filtering.rules import normalized, words


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _read_jsonl_texts(path: Path) -> list[str]:
    texts = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputDataError(f"{path}, line {i}: not valid JSON ({e})") from None
                texts.append(" ".join(filter(None, [record.get("title"), record.get("text")])))
    return texts


class EvalOverlapIndex:
    """N-gram index of one or more evaluation sets.

    Example:
        >>> index = EvalOverlapIndex(["../shared/eval/squad_it_test"], ngram=8, query_ngram=5)  # doctest: +SKIP
        >>> index.query_overlaps("in che anno è stata fondata la città di Roma")  # doctest: +SKIP
    """

    def __init__(self, folders: list[str], ngram: int = 8, query_ngram: int = 5):
        self.ngram, self.query_ngram = ngram, query_ngram
        self.passage_grams: set[tuple[str, ...]] = set()
        self.query_grams: set[tuple[str, ...]] = set()
        self.exact_queries: set[str] = set()
        for folder in folders:
            root = Path(folder)
            corpus, queries = root / "corpus.jsonl", root / "queries.jsonl"
            if not corpus.is_file() or not queries.is_file():
                raise InputDataError(f"evaluation set {root} needs corpus.jsonl and queries.jsonl (BEIR layout); "
                                     "fix filter.decontamination.eval_sets")
            for text in _read_jsonl_texts(corpus):
                self.passage_grams |= ngrams(words(text), ngram)
            for text in _read_jsonl_texts(queries):
                self.exact_queries.add(normalized(text))
                self.query_grams |= ngrams(words(text), query_ngram)

    def passage_overlaps(self, text: str) -> bool:
        return not self.passage_grams.isdisjoint(ngrams(words(text), self.ngram))

    def query_overlaps(self, text: str) -> bool:
        return normalized(text) in self.exact_queries or not self.query_grams.isdisjoint(
            ngrams(words(text), self.query_ngram))
