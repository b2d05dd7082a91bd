"""BM25 baseline (rank-bm25's BM25Okapi) with a simple lowercase word tokenizer."""

from __future__ import annotations

import re
import time

import numpy as np
from rank_bm25 import BM25Okapi

from eval.sets import RetrievalSet

_WORD = re.compile(r"\w+", re.UNICODE)

# Common Italian function words (optional: --bm25-stopwords).
ITALIAN_STOP_WORDS = frozenset(
    """a ad al alla alle agli ai all anche che chi ci come con cui da dal dalla dalle dai dagli degli dei del della
    delle dello di e ed è era erano gli ha hanno ho i il in l la le lo loro ma mi ne negli nei nel nella nelle non o
    per più quale quando questo questa quello quella se si sono su sua sue suo suoi sul sulla tra un una uno""".split()
)


def tokenize(text: str, stop_words: frozenset[str] | None = None) -> list[str]:
    """Lowercase ``\\w+`` tokens (apostrophes split words: ``l'anno`` -> ``l``, ``anno``), minus stop words."""
    tokens = _WORD.findall(text.lower())
    return [t for t in tokens if t not in stop_words] if stop_words else tokens


def bm25_run(
    rs: RetrievalSet, k: int = 10, stop_words: frozenset[str] | None = None
) -> tuple[dict[str, list[str]], float]:
    """Top-k BM25 ranking of every query; also returns the indexing speed in passages per second."""
    doc_ids = list(rs.corpus)
    start = time.perf_counter()
    index = BM25Okapi([tokenize(rs.corpus[d], stop_words) or [""] for d in doc_ids])
    seconds = time.perf_counter() - start
    run: dict[str, list[str]] = {}
    for qid, text in rs.queries.items():
        scores = index.get_scores(tokenize(text, stop_words))
        order = np.argsort(-scores, kind="stable")[:k]
        run[qid] = [doc_ids[i] for i in order]
    return run, (len(doc_ids) / seconds if seconds > 0 else float("inf"))
