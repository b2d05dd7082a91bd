"""Statistics of mined triplets: negatives per query, by source, score histograms (data for the card's plots).

Example:
    >>> triplet_stats([{"positive_score": .9, "negatives": [{"score": .7, "source": "dense"}]}], k=1)["rows"]
    1
"""

from __future__ import annotations

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


def triplet_stats(rows: list[dict], k: int) -> dict:
    """Counts that describe mined rows (each with ``negatives`` [{score, source}] and ``positive_score``)."""
    per_query = Counter(len(r["negatives"]) for r in rows)
    by_source: dict[str, list[float]] = {"dense": [], "bm25": []}
    for row in rows:
        for negative in row["negatives"]:
            by_source.setdefault(negative["source"], []).append(negative["score"])
    positive = [r["positive_score"] for r in rows]
    negatives = [s for scores in by_source.values() for s in scores]
    return {
        "rows": len(rows),
        "queries_with_k_negatives": sum(n for count, n in per_query.items() if count >= k),
        "queries_without_negatives": per_query.get(0, 0),
        "negatives_per_query": {str(count): n for count, n in sorted(per_query.items())},
        "negatives": len(negatives),
        "negatives_by_source": {src: len(scores) for src, scores in by_source.items()},
        "positive_score_mean": round(float(np.mean(positive)), 4) if positive else None,
        "negative_score_mean": round(float(np.mean(negatives)), 4) if negatives else None,
        "score_histograms": score_histograms(positive, by_source),
    }
