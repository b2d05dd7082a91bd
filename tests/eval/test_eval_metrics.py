"""Metrics against values computed by hand on a 3-query toy run, and against sentence-transformers' evaluator."""

from __future__ import annotations

import math
import random

import pytest
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

from eval.metrics import evaluate_run, mrr_at_k, ndcg_at_k, recall_at_k

# q1: one relevant passage, found at rank 2.
# q2: two relevant passages, found at ranks 1 and 4.
# q3: graded: d7 (score 2) at rank 12 (outside the top 10), d8 (score 1) at rank 1.
QRELS = {"q1": {"d1": 1}, "q2": {"d3": 1, "d4": 1}, "q3": {"d7": 2, "d8": 1}}
RUN = {
    "q1": ["d2", "d1", "d3"],
    "q2": ["d3", "d5", "d6", "d4"],
    "q3": ["d8"] + [f"x{i}" for i in range(10)] + ["d7"],
}
# By hand, DCG = sum rel / log2(rank + 1):
#   q1: (1/log2 3) / 1                                  = 0.630930
#   q2: (1 + 1/log2 5) / (1 + 1/log2 3) = 1.430677/1.630930 = 0.877215
#   q3: (1/1) / (2/1 + 1/log2 3) = 1/2.630930            = 0.380094
NDCG = (0.630930, 0.877215, 0.380094)
RECALL = (1.0, 1.0, 0.5)
MRR = (0.5, 1.0, 1.0)


def test_per_query_values() -> None:
    for i, q in enumerate(["q1", "q2", "q3"]):
        assert ndcg_at_k(RUN[q], QRELS[q], 10) == pytest.approx(NDCG[i], abs=1e-6)
        assert recall_at_k(RUN[q], QRELS[q], 10) == pytest.approx(RECALL[i])
        assert mrr_at_k(RUN[q], QRELS[q], 10) == pytest.approx(MRR[i])


def test_means() -> None:
    scores = evaluate_run(RUN, QRELS, k=10)
    assert scores["ndcg@10"] == pytest.approx(sum(NDCG) / 3, abs=1e-6)  # 0.629413
    assert scores["recall@10"] == pytest.approx(2.5 / 3)
    assert scores["mrr@10"] == pytest.approx(2.5 / 3)


def test_cutoff_and_edge_cases() -> None:
    assert ndcg_at_k(["a", "b", "c"], {"c": 1}, k=2) == 0.0
    assert ndcg_at_k(["a", "b", "c"], {"c": 1}, k=3) == pytest.approx(0.5)  # 1 / log2(4)
    assert mrr_at_k([], {"a": 1}) == 0.0
    # a query missing from the run counts as 0; a query with no relevant passage is left out
    scores = evaluate_run({"q1": ["d1"]}, {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 0}})
    assert scores == {"ndcg@10": 0.5, "recall@10": 0.5, "mrr@10": 0.5}
    assert math.isclose(evaluate_run({}, {})["ndcg@10"], 0.0)


def test_agrees_with_information_retrieval_evaluator() -> None:
    """On binary qrels our numbers equal sentence-transformers' InformationRetrievalEvaluator."""
    rng = random.Random(0)
    docs = [f"d{i}" for i in range(30)]
    qrels = {f"q{i}": {d: 1 for d in rng.sample(docs, rng.randint(1, 3))} for i in range(20)}
    run = {q: rng.sample(docs, 15) for q in qrels}
    ev = InformationRetrievalEvaluator(
        queries={q: q for q in qrels},
        corpus={d: d for d in docs},
        relevant_docs={q: set(r) for q, r in qrels.items()},
        mrr_at_k=[10],
        ndcg_at_k=[10],
        precision_recall_at_k=[10],
    )
    hits = [[{"corpus_id": d, "score": 1.0 - i / 100} for i, d in enumerate(run[q])] for q in ev.queries_ids]
    theirs = ev.compute_metrics(hits)
    ours = evaluate_run(run, qrels)
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg@k"][10])
    assert ours["recall@10"] == pytest.approx(theirs["recall@k"][10])
    assert ours["mrr@10"] == pytest.approx(theirs["mrr@k"][10])
