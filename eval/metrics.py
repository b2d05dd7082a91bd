"""Ranking metrics at a cutoff (NDCG, Recall, MRR), as BEIR / pytrec_eval define them.

* NDCG@k: DCG = sum over the top k of rel_i / log2(i + 1) (rank i from 1, linear gain = the qrels score),
  divided by the DCG of the ideal ranking of the query's judged passages.
* Recall@k: relevant passages in the top k / all relevant passages of the query.
* MRR@k: 1 / rank of the first relevant passage in the top k, 0 if none.

Relevant means a qrels score > 0; queries without any relevant passage are left out of the averages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """NDCG@k of one query's ranking (passage ids, best first) against its graded qrels."""
    dcg = sum(rels.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]) if rels.get(doc, 0) > 0)
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """Share of the query's relevant passages found in the top k."""
    relevant = {doc for doc, r in rels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant passage in the top k (0 if none)."""
    for i, doc in enumerate(ranking[:k]):
        if rels.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def evaluate_run(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k: int = 10
) -> dict[str, float]:
    """Mean NDCG@k, Recall@k and MRR@k over the queries of ``qrels`` that have a relevant passage.

    Args:
        run: query id -> ranked passage ids (best first); a query missing from ``run`` scores 0.
        qrels: query id -> {passage id: relevance score}.
    """
    judged = [q for q, rels in qrels.items() if any(r > 0 for r in rels.values())]
    if not judged:
        return {f"ndcg@{k}": 0.0, f"recall@{k}": 0.0, f"mrr@{k}": 0.0}
    totals = {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0}
    for q in judged:
        ranking = list(run.get(q, ()))
        totals["ndcg"] += ndcg_at_k(ranking, qrels[q], k)
        totals["recall"] += recall_at_k(ranking, qrels[q], k)
        totals["mrr"] += mrr_at_k(ranking, qrels[q], k)
    return {f"{name}@{k}": value / len(judged) for name, value in totals.items()}
