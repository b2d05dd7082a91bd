"""Round-trip consistency by a panel of judges: each ranks every query's own passage among the corpus.

A query is kept when the panel agrees (``agree``: ``any`` judge, ``all`` judges, or at least N of them) that its
passage is in the judge's top k. The panel holds the base dense model (the model you will fine-tune), BM25 and
any other configured embedder. Filtering with the base model alone keeps only what it already gets right; with a
panel, queries the base ranks low but BM25 or another model finds are kept, and those are what fine-tuning learns
from (Tamber et al. 2025 filter with three other retrievers; InPars with a separate reranker).

Every judge's rank is recorded on every query (``rank_<judge>``). ``eval_eligible`` says whether the query passes
the panel *without* the base model: the split stage draws dev and test queries only from those, so the benchmark
does not favour the base by construction.

Example:
    >>> ranks_fn = None   # (queries, positive indices) -> ranks; verdicts() takes ranks already computed
    >>> panel = JudgePanel([Judge("base", 10, ranks_fn), Judge("bm25", 20, ranks_fn)], agree="any", base="base")
    >>> panel.verdicts({"base": np.array([3, 40]), "bm25": np.array([50, 2])})
    (array([ True,  True]), array([False,  True]))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Judge:
    """One judge: a name, its k, and a function (queries, positive indices) -> 1-based ranks of the positives."""

    name: str
    top_k: int
    ranks: Callable[[list[str], np.ndarray], np.ndarray]


class JudgePanel:
    def __init__(self, judges: list[Judge], agree: str | int = "any", base: str | None = "base"):
        if not judges:
            raise ValueError("the round-trip panel has no judge")
        self.judges, self.agree, self.base = judges, agree, base

    def ranks(self, queries: list[str], positives: np.ndarray) -> dict[str, np.ndarray]:
        return {j.name: np.asarray(j.ranks(queries, positives)) for j in self.judges}

    def _needed(self, n_judges: int) -> int:
        if self.agree == "any":
            return 1
        if self.agree == "all":
            return n_judges
        return min(int(self.agree), n_judges)

    def _passes(self, ranks: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
        if not names:
            return np.zeros(len(next(iter(ranks.values()))), dtype=bool)
        k = {j.name: j.top_k for j in self.judges}
        votes = np.sum([ranks[n] <= k[n] for n in names], axis=0)
        return votes >= self._needed(len(names))

    def verdicts(self, ranks: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(kept by the whole panel, kept by the panel without the base model) per query."""
        names = [j.name for j in self.judges]
        without_base = [n for n in names if n != self.base]
        return self._passes(ranks, names), self._passes(ranks, without_base)


def bm25_ranks(index, queries: list[str], positives: np.ndarray, depth: int) -> np.ndarray:
    """1-based BM25 rank of each query's positive (ties count against it); ``depth + 1`` past the top ``depth``."""
    return index.positive_ranks(queries, positives, depth)


def dense_judge(name: str, model_name: str, top_k: int, texts: list[str], query_prompt: str, passage_prompt: str,
                cache_dir, batch_size: int = 64, index=None) -> Judge:
    """A dense judge: passages encoded once (cached in ``cache_dir``), queries encoded when asked. Below
    ``index.exact_below`` passages the positive's exact rank among all passages; above, its rank in a FAISS index's
    top ``index.depth`` (pipeline/mining/dense_index.py), the index's recall against exact search printed.

    The queries' embeddings go to the run's embedding store too, where mine finds them (the same model and prompt)
    instead of encoding every query again; round-trip tasks running at once write their own shards of it."""
    from pipeline.errors import ConfigError
    from pipeline.filtering.round_trip import positive_ranks
    from pipeline.mining.embedding_store import EmbeddingStore
    from retrieval.errors import ModelError
    from retrieval.models import load_embedder

    try:
        model = load_embedder(model_name)
    except ModelError as e:
        raise ConfigError(f"round-trip judge {name!r} (filter.round_trip): {e}") from None
    passage_vecs = EmbeddingStore(cache_dir, model_name, passage_prompt).embed(model, texts, batch_size,
                                                                               desc=f"passages ({name})")
    query_store = EmbeddingStore(cache_dir, model_name, query_prompt)

    search = None
    if index is not None and index.searches_index(len(texts)):
        from pipeline.mining.dense_index import DenseIndex

        search = DenseIndex(passage_vecs, index)

    def ranks(queries: list[str], positives: np.ndarray) -> np.ndarray:
        query_vecs = query_store.embed(model, queries, batch_size, desc=f"queries ({name})")
        if search is None:
            return positive_ranks(query_vecs, passage_vecs, positives)
        if search.kind != "flat" and index.recall_sample:
            recall = search.recall_against_exact(query_vecs, k=top_k, sample=index.recall_sample)
            print(f"[filter] judge {name}: {search.kind} index over {search.n:,} passages, recall@{top_k} against "
                  f"exact search {recall:.3f} on {min(index.recall_sample, len(queries))} queries")
        return search.positive_ranks(query_vecs, positives, max(index.depth, top_k))

    return Judge(name, top_k, ranks)


def build_panel(rt, texts: list[str], language, cache_dir, bm25_dir=None) -> JudgePanel:
    """The configured panel (``filter.round_trip``) over the corpus ``texts`` (passage and query embeddings kept
    in ``cache_dir``, the BM25 index in ``bm25_dir``)."""
    judges = [dense_judge("base", rt.model, rt.top_k, texts, rt.query_prompt, rt.passage_prompt, cache_dir,
                          rt.batch_size, rt.index)]
    if rt.bm25_top_k:
        from pipeline.mining.bm25 import Bm25Index, LanguageTokenizer

        index = Bm25Index(texts, LanguageTokenizer.for_language(language), bm25_dir)
        depth = max(rt.bm25_top_k, 100)  # ranks past k are recorded too (up to 100), for the statistics
        judges.append(Judge("bm25", rt.bm25_top_k, lambda q, p: bm25_ranks(index, q, p, depth)))
    for j in rt.judges:
        judges.append(dense_judge(j.name, j.model, j.top_k, texts, j.query_prompt, j.passage_prompt, cache_dir,
                                  j.batch_size, rt.index))
    return JudgePanel(judges, rt.agree, base="base")
