"""What the card's plots and figures need from the published rows, gathered batch by batch.

A run of millions of queries cannot hand the card every row, so the card gets ``CardData``: exact counts (query
styles per split, test query ids) and, for the histograms, every value up to ``cap`` per series and a seeded
uniform sample (reservoir sampling) beyond it; a histogram of 200,000 sampled values looks like the full one.

Example:
    >>> data = CardData()
    >>> data.add_rows("train", [{"style": "keywords", "query": "alluvione Modena", "positive_score": 0.9,
    ...                          "negatives": [{"score": 0.8, "source": "dense"}]}])
    >>> data.add_passages([{"text": "uno due tre", "n_tokens": 3}])
    >>> dict(data.styles["train"]), data.query_words["keywords"].values, data.passage_lengths()
    ({'keywords': 1}, [2], ([3], 'tokens'))
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

from pipeline.run_folder import SPLITS

CAP = 200_000  # values kept per plotted series


class Reservoir:
    """Every value up to ``cap``, then a uniform sample of ``cap`` of them (Algorithm R, seeded)."""

    def __init__(self, cap: int = CAP, seed: int = 0):
        self.cap, self.seen, self.values = cap, 0, []
        self._rng = random.Random(seed)

    def add(self, value) -> None:
        self.seen += 1
        if len(self.values) < self.cap:
            self.values.append(value)
        else:
            slot = self._rng.randrange(self.seen)
            if slot < self.cap:
                self.values[slot] = value


class CardData:
    """The card's inputs from split rows (mine's triplet columns) and passages, fed in any number of batches."""

    def __init__(self, cap: int = CAP, seed: int = 0):
        self.cap, self.seed = cap, seed
        self.styles: dict[str, Counter] = {s: Counter() for s in SPLITS}
        self.query_words: dict[str, Reservoir] = {}
        self.negative_scores: dict[str, Reservoir] = {}
        self.positive_scores = self._reservoir()
        self._tokens, self._words = self._reservoir(), self._reservoir()
        self.test_query_ids: set[str] = set()

    def _reservoir(self) -> Reservoir:
        return Reservoir(self.cap, self.seed)

    def add_rows(self, split: str, rows: Iterable[dict]) -> None:
        for r in rows:
            self.styles[split][r["style"]] += 1
            self.query_words.setdefault(r["style"], self._reservoir()).add(len(r["query"].split()))
            self.positive_scores.add(r["positive_score"])
            for n in r["negatives"]:
                self.negative_scores.setdefault(n["source"], self._reservoir()).add(n["score"])
            if split == "test":
                self.test_query_ids.add(r["query_id"])

    def add_passages(self, passages: Iterable[dict]) -> None:
        for p in passages:
            if p.get("n_tokens") is not None:
                self._tokens.add(p["n_tokens"])
            elif not self._tokens.seen:  # words count only while no passage has a token count
                self._words.add(len(p["text"].split()))

    def passage_lengths(self) -> tuple[list[int], str]:
        """Passage lengths in embedder tokens, or in words when the passages carry no token counts."""
        return (self._tokens.values, "tokens") if self._tokens.seen else (self._words.values, "words")

    @classmethod
    def from_rows(cls, split_rows: dict[str, list[dict]], passages: list[dict]) -> CardData:
        data = cls()
        for split, rows in split_rows.items():
            data.add_rows(split, rows)
        data.add_passages(passages)
        return data
