"""Per-query negatives from dense and BM25 candidates: guard, same-document rule, interleave, optional judge.

Example::

    miner = Miner(corpus, cfg, query_embeddings, corpus_embeddings, query_index, dense, bm25)
    row, drops = miner.mine_one(query_row)
    [n["source"] for n in row["negatives"]]     # ['dense', 'bm25', 'dense', 'bm25']
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from pipeline.config.dataset import MineConfig
from pipeline.mining.bm25 import Bm25Index
from pipeline.mining.corpus import Corpus
from pipeline.mining.dense import DenseResult
from pipeline.mining.select import Negative, choose, drop_same_document, guard, interleave


@dataclass
class Miner:
    corpus: Corpus
    cfg: MineConfig
    query_embeddings: np.ndarray  # one row per unique query text
    corpus_embeddings: np.ndarray  # one row per corpus text
    query_index: dict[str, int]  # query text -> row of query_embeddings
    dense: DenseResult | None = None
    bm25: Bm25Index | None = None
    positives_of: dict[str, set[int]] | None = None  # query text -> every positive's text index (all are masked)
    judge: object | None = None  # an LLMJudge (pipeline.mining.judge), or None
    bm25_hits: dict[str, list[int]] | None = None  # query text -> BM25's best passages (``prefetch_bm25``)

    def _bm25_depth(self, query: str) -> int:
        return self.cfg.range_max + len(self.positives_of.get(query, ()))

    def prefetch_bm25(self, queries: list[str]) -> None:
        """BM25's ranked passages for all ``queries`` in one batched search (``Bm25Index.top_many``: ~3x faster
        than a search per query at 20k passages). A top-k list's first j entries are its top-j (ties by passage
        index), so each query's prefix is what ``top`` with its own depth returns."""
        depth = max((self._bm25_depth(q) for q in queries), default=0)
        self.bm25_hits = {q: [i for i, _ in hits] for q, hits in zip(queries, self.bm25.top_many(queries, depth))}

    def positive_score(self, query: str, positive_index: int) -> float:
        return float(self.query_embeddings[self.query_index[query]] @ self.corpus_embeddings[positive_index])

    def _dense(self, query: str, positive_index: int) -> list[Negative]:
        found = self.dense.candidates.get((query, self.corpus.texts[positive_index]), [])
        return [Negative(i, s, "dense") for i, s in found]

    def _bm25(self, query: str) -> list[Negative]:
        """BM25's rank window (positives excluded), scored with the dense model for the guard."""
        cfg, masked, depth = self.cfg, self.positives_of.get(query, set()), self._bm25_depth(query)
        hits = self.bm25_hits.get(query) if self.bm25_hits is not None else None
        if hits is None:
            hits = [i for i, _ in self.bm25.top(query, depth)]
        ranked = [i for i in hits[:depth] if i not in masked]
        window = ranked[cfg.range_min:cfg.range_max]
        if not window:
            return []
        scores = self.corpus_embeddings[window] @ self.query_embeddings[self.query_index[query]]
        return [Negative(i, float(s), "bm25") for i, s in zip(window, scores)]

    def mine_one(self, row: dict) -> tuple[dict, Counter]:
        """A query row (with ``positive_index``) -> its output row and its drop counts."""
        cfg, drops = self.cfg, Counter()
        query, pos = row["query"], row["positive_index"]
        pos_score = self.positive_score(query, pos)
        docs = self.corpus.docs_of[pos] | {row["doc_id"]}
        ranked = []
        if self.dense is not None:  # already guarded by mine_hard_negatives (relative_margin)
            kept, n = drop_same_document(self._dense(query, pos), docs, self.corpus)
            ranked.append(kept)
            drops["same_document"] += n
        if self.bm25 is not None:
            candidates, n = guard(self._bm25(query), pos_score, cfg.relative_margin)
            drops["guard_bm25"] += n
            kept, n = drop_same_document(candidates, docs, self.corpus)
            ranked.append(kept)
            drops["same_document"] += n
        answers = None
        if self.judge is not None:
            answers = lambda i: self.judge.answers(query, self.corpus.texts[i])  # noqa: E731
        choice = choose(interleave(*ranked), cfg.num_negatives + cfg.spare_negatives, answers, cfg.judge_extra)
        drops["judge"] += choice.judge_dropped
        drops["judge_unclear"] += choice.judge_unclear
        negatives = [{"passage_id": self.corpus.passage_ids[n.index], "doc_id": self.corpus.doc_ids[n.index],
                      "text": self.corpus.texts[n.index], "score": n.score, "source": n.source}
                     for n in choice.negatives]
        out = {"query_id": row["query_id"], "query": query, "passage_id": row["passage_id"],
               "positive": self.corpus.texts[pos], "doc_id": row["doc_id"], "style": row["style"],
               "negatives": negatives, "positive_score": pos_score}
        return out, drops
