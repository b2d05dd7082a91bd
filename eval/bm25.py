"""BM25 baseline: the project's one BM25 (pipeline/mining/bm25.py: bm25s over the language file's tokenization),
the same index and tokenizer that mining and the filter's round-trip judge use."""

from __future__ import annotations

import time

from eval.retrieval_set import RetrievalSet


def bm25_run(rs: RetrievalSet, k: int = 10, language: str = "ita_Latn",
             stop_words: bool = False) -> tuple[dict[str, list[str]], float]:
    """Top-k BM25 ranking of every query; also returns the indexing speed in passages per second.

    ``language``: a bundled language code or a language YAML (its spaCy tokenizer, and its stop words when
    ``stop_words``)."""
    from pipeline.languages import load_language
    from pipeline.mining.bm25 import Bm25Index, LanguageTokenizer

    tokenizer = LanguageTokenizer.for_language(load_language(language), stop_words=stop_words)
    doc_ids = list(rs.corpus)
    start = time.perf_counter()
    index = Bm25Index([rs.corpus[d] for d in doc_ids], tokenizer)
    seconds = time.perf_counter() - start
    query_ids = list(rs.queries)
    hits = index.top_many([rs.queries[q] for q in query_ids], k)
    run = {qid: [doc_ids[i] for i, _ in found] for qid, found in zip(query_ids, hits)}
    return run, (len(doc_ids) / seconds if seconds > 0 else float("inf"))
