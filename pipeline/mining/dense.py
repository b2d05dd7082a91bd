"""Dense candidates from ``sentence_transformers.util.mine_hard_negatives`` (TopK-PercPos guard included).

mine_hard_negatives knows texts, not documents, so it cannot keep a positive's own document out of its negatives.
We therefore ask it for every candidate of the rank window that passes its guard (``num_negatives`` = window size,
``output_format="labeled-list"`` with scores) and drop same-document candidates ourselves afterwards
(pipeline.mining.select), then keep the first ``k``.

Example::

    found = dense_candidates(model, queries, positives, corpus, cfg, cache_folder)
    found.candidates[("alluvione Modena", "Il fiume ...")][:2]     # [(17, 0.81), (3, 0.79)]
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset
from sentence_transformers.util import mine_hard_negatives

from pipeline.config.dataset import MineConfig
from pipeline.mining.corpus import Corpus

Candidate = tuple[int, float]  # (corpus text index, similarity to the query)
_SKIPPED = re.compile(r"Skipped ([\d,]+) potential negatives .*? due to the relative_margin")


@dataclass
class DenseResult:
    candidates: dict[tuple[str, str], list[Candidate]] = field(default_factory=dict)  # (query, positive) -> ranked
    guard_dropped: int = 0  # candidates of the rank window removed by relative_margin (the library's count)


def dense_candidates(model, queries: list[str], positives: list[str], corpus: Corpus, cfg: MineConfig,
                     cache_folder: Path) -> DenseResult:
    """Ranked, guarded candidates per (query, positive text) pair; positives of the same query never appear."""
    window = cfg.range_max - cfg.range_min
    dataset = Dataset.from_dict({"query": queries, "positive": positives})
    report = io.StringIO()
    with contextlib.redirect_stdout(report), approximate_search(cfg, len(corpus.texts)):
        mined = mine_hard_negatives(
            dataset, model, anchor_column_name="query", positive_column_name="positive", corpus=corpus.texts,
            range_min=cfg.range_min, range_max=cfg.range_max, relative_margin=cfg.relative_margin,
            num_negatives=window, sampling_strategy="top", query_prompt=cfg.query_prompt or None,
            corpus_prompt=cfg.corpus_prompt or None, output_format="labeled-list", output_scores=True,
            batch_size=cfg.batch_size, use_faiss=cfg.use_faiss, cache_folder=str(cache_folder), verbose=True,
        )
    sys.stdout.write(report.getvalue())  # the library's score table stays visible to the user
    index_of_text = {text: i for i, text in enumerate(corpus.texts)}
    result = DenseResult(guard_dropped=_guard_count(report.getvalue()))
    for query, texts, scores in zip(mined["query"], mined["positive"], mined["scores"]):
        # labeled-list rows: [positive, negative_1, ...] with [positive score, negative scores...], best first
        result.candidates[(query, texts[0])] = [(index_of_text[t], float(s)) for t, s in zip(texts[1:], scores[1:])]
    return result


_FAISS_PATCH = threading.Lock()


@contextlib.contextmanager
def approximate_search(cfg: MineConfig, corpus_size: int):
    """From ``cfg.index.exact_below`` passages on (with ``use_faiss``), ``mine_hard_negatives`` searches our DenseIndex
    (IVF or HNSW per ``cfg.index``) where it would build an exact ``faiss.IndexFlatIP``.

    Exact search costs queries x passages: at a million passages and half a million queries, hours on a CPU. The
    library takes no index of ours, and its search is three calls (``IndexFlatIP(dim)``, ``add``, ``search``) in the
    middle of its rank windows, margins and output formats, which we want to keep; so for the length of the call the
    name ``faiss.IndexFlatIP`` gives a stand-in that builds the approximate index on ``add``. Below the threshold
    nothing changes (the same rows as before).
    """
    if not cfg.use_faiss or not cfg.index.searches_index(corpus_size):
        yield
        return
    import faiss

    with _FAISS_PATCH:  # the name is global to the process: two threads mining at once take turns
        exact = faiss.IndexFlatIP
        faiss.IndexFlatIP = lambda dim: _IndexStandIn(cfg.index, exact)
        try:
            yield
        finally:
            faiss.IndexFlatIP = exact


class _IndexStandIn:
    """What ``mine_hard_negatives`` sees of the approximate index: ``add`` builds it, ``search`` queries it."""

    def __init__(self, settings, exact_class):
        self.settings, self.exact_class, self.index = settings, exact_class, None

    def add(self, vectors):
        import faiss

        from pipeline.mining.dense_index import DenseIndex

        patched, faiss.IndexFlatIP = faiss.IndexFlatIP, self.exact_class  # the IVF quantizer is an exact index
        try:
            self.index = DenseIndex(vectors, self.settings, setting="mine.index")
        finally:
            faiss.IndexFlatIP = patched
        print(f"Dense candidates from the {self.index.kind} index over {self.index.n:,} passages (mine.index)")

    def search(self, queries, k: int):
        """The index's top ``k``; a query for which an approximate index found fewer than ``k`` (id -1) is searched
        exactly, so that no -1 reaches the library (it would read it as the last passage)."""
        scores, ids = self.index.search(queries, k)
        short = np.flatnonzero((ids < 0).any(axis=1))
        if len(short):
            scores[short], ids[short] = self.index.exact_search(queries[short], ids.shape[1])
        return scores, ids


def _guard_count(report: str) -> int:
    """The relative_margin skip count mine_hard_negatives prints (it returns no statistics); 0 if none printed."""
    match = _SKIPPED.search(report)
    return int(match.group(1).replace(",", "")) if match else 0
