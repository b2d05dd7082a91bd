"""Statistics of mined triplets: negatives per query, by source, score histograms (data for the card's plots).

Example:
    >>> triplet_stats([{"positive_score": .9, "negatives": [{"score": .7, "source": "dense"}]}], k=1)["rows"]
    1
"""

from __future__ import annotations

from array import array
from collections import Counter

import numpy as np


def score_histograms(positive: list[float], by_source: dict[str, list[float]], bins: int = 30) -> dict:
    """Counts over shared bin edges for the positive scores and each source's negative scores."""
    everything = [*positive, *(s for scores in by_source.values() for s in scores)]
    if not everything:
        return {"edges": [], "positive": [], **{k: [] for k in by_source}}
    low, high = float(min(everything)), float(max(everything))
    edges = np.linspace(low, high if high > low else low + 1e-6, bins + 1)
    out = {"edges": [round(float(e), 4) for e in edges], "positive": np.histogram(positive, edges)[0].tolist()}
    out.update({k: np.histogram(v, edges)[0].tolist() for k, v in by_source.items()})
    return out


class TripletStats:
    """``triplet_stats`` gathered batch by batch (the mine stage writes its rows in batches and keeps none): counts,
    and the scores in compact float arrays for the means and histograms.

    >>> stats = TripletStats(k=1)
    >>> stats.add([{"positive_score": .9, "negatives": [{"score": .7, "source": "dense"}]}])
    >>> stats.add([{"positive_score": .8, "negatives": []}])
    >>> stats.result()["queries_without_negatives"], stats.result()["positive_score_mean"]
    (1, 0.85)
    """

    def __init__(self, k: int):
        self.k = k
        self.per_query: Counter = Counter()
        self.by_source: dict[str, array] = {"dense": array("d"), "bm25": array("d")}
        self.positive = array("d")

    def add(self, rows: list[dict]) -> None:
        for row in rows:
            self.per_query[len(row["negatives"])] += 1
            self.positive.append(row["positive_score"])
            for negative in row["negatives"]:
                self.by_source.setdefault(negative["source"], array("d")).append(negative["score"])

    def result(self) -> dict:
        per_query, by_source = self.per_query, self.by_source
        negatives = np.concatenate([np.asarray(v) for v in by_source.values()]) if by_source else np.array([])
        return {
            "rows": sum(per_query.values()),
            "queries_with_k_negatives": sum(n for count, n in per_query.items() if count >= self.k),
            "queries_without_negatives": per_query.get(0, 0),
            "negatives_per_query": {str(count): n for count, n in sorted(per_query.items())},
            "negatives": len(negatives),
            "negatives_by_source": {src: len(scores) for src, scores in by_source.items()},
            "positive_score_mean": round(float(np.mean(self.positive)), 4) if len(self.positive) else None,
            "negative_score_mean": round(float(np.mean(negatives)), 4) if len(negatives) else None,
            "score_histograms": score_histograms(list(self.positive), {k: list(v) for k, v in by_source.items()}),
        }


def triplet_stats(rows: list[dict], k: int) -> dict:
    """Counts that describe mined rows (each with ``negatives`` [{score, source}] and ``positive_score``)."""
    stats = TripletStats(k)
    stats.add(rows)
    return stats.result()
