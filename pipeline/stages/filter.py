"""filter: keep only queries that are good training signal.

Rules, cheapest first, each counted by reason: decontamination (passages and queries overlapping the evaluation
sets), language, length, exact duplicates, near-duplicates among a passage's queries, copy-paste from the passage,
round-trip consistency (the base embedder must rank the query's own passage in its top k among all passages).

Output under ``runs/<name>/filter/``: ``queries.parquet`` (kept queries, with ``positive_rank``),
``dropped.parquet`` (every dropped query with its reason), ``passages.parquet`` (the corpus minus contaminated
passages), ``embeddings/`` (cached passage embeddings, reused by mine).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import StageError
from pipeline.filtering.decontamination import EvalOverlapIndex
from pipeline.filtering.round_trip import cached_embeddings, load_embedder, positive_ranks
from pipeline.filtering.rules import (
    LanguageScorer,
    content_words,
    copied_fraction,
    jaccard,
    normalized,
    question_count,
    words,
)
from pipeline.stages.base import Stage, format_drops
from pipeline.stages.passages import read_passages


class FilterStage(Stage):
    name = "filter"
    upstream = "generate"
    config_sections = ("filter",)

    def process(self) -> dict[str, Any]:
        queries = pq.read_table(self.upstream_dir / "queries.parquet").to_pylist()
        if not queries:
            raise StageError(f"generate produced no valid queries ({self.upstream_dir / 'queries.parquet'} is "
                             "empty): check generate/dropped.parquet for why the replies were dropped")
        passages = self._corpus(read_passages(self.run_dir).to_pylist(), {q["passage_id"] for q in queries})
        passages, contaminated = self._decontaminate_passages(passages)
        text_of = {p["passage_id"]: p["text"] for p in passages}
        kept, dropped = [], []

        def drop(q: dict, reason: str, detail: str = "") -> None:
            dropped.append({**_brief(q), "reason": reason, "detail": detail})

        for q in queries:
            reason = self._first_failing_rule(q, text_of, contaminated)
            if reason:
                drop(q, *reason)
            else:
                kept.append(q)
        kept = self._dedup(kept, drop)
        kept = self._round_trip(kept, passages, drop)
        pq.write_table(pa.Table.from_pylist(dropped, schema=_DROPPED_SCHEMA), self.dir / "dropped.parquet")
        if not kept:  # dropped.parquet is written first: the message points the user at it
            raise StageError(f"every query was filtered away: see {self.dir / 'dropped.parquet'} for the reasons, "
                             "and relax the filter section of the config (or improve the generation prompt/model)")
        pq.write_table(pa.Table.from_pylist(kept), self.dir / "queries.parquet")
        pq.write_table(pa.Table.from_pylist(passages), self.dir / "passages.parquet")
        reasons = Counter(d["reason"] for d in dropped)
        styles = Counter(q["style"] for q in kept)
        return {"queries_in": len(queries), "rows": len(kept), "dropped": dict(reasons),
                "kept_by_style": dict(styles), "passages_removed_contaminated": len(contaminated),
                "passages_with_queries": len({q["passage_id"] for q in kept}), "corpus_passages": len(passages)}

    def summary(self, stats: dict[str, Any]) -> str:
        return f"{stats['queries_in']} queries in, {stats['rows']} kept; dropped: {format_drops(stats['dropped'])}"

    def _corpus(self, passages: list[dict], with_queries: set[str]) -> list[dict]:
        """The run's retrieval corpus: every passage that has queries, plus a seeded sample of the others.

        Round-trip ranks and mined negatives are relative to this corpus, and it is published as ``corpus``. A cap
        keeps CPU runs tractable (encoding every C4 passage on a laptop is not); on a cluster leave it unset.
        """
        cap = self.config.filter.corpus_max_passages
        if cap is None or len(passages) <= cap:
            return passages
        import random

        others = sorted((p for p in passages if p["passage_id"] not in with_queries), key=lambda p: p["passage_id"])
        room = max(cap - (len(passages) - len(others)), 0)
        keep = {p["passage_id"] for p in random.Random(self.config.seed).sample(others, min(room, len(others)))}
        return [p for p in passages if p["passage_id"] in with_queries or p["passage_id"] in keep]

    # ------------------------------------------------------------------ rules
    def _decontaminate_passages(self, passages: list[dict]) -> tuple[list[dict], set[str]]:
        sets = self.config.filter.decontamination.eval_sets
        self._eval_index = None
        if not sets:
            return passages, set()
        d = self.config.filter.decontamination
        self._eval_index = EvalOverlapIndex(sets, d.ngram, d.query_ngram, set(self.language.stop_words),
                                            d.query_min_content_words, d.query_template_count)
        bad = {p["passage_id"] for p in passages if self._eval_index.passage_overlaps(p["text"])}
        return [p for p in passages if p["passage_id"] not in bad], bad

    def _first_failing_rule(self, q: dict, text_of: dict, contaminated: set) -> tuple[str, str] | None:
        f, query = self.config.filter, q["query"]
        if q["passage_id"] in contaminated:
            return "contaminated_passage", ""
        if self._eval_index is not None and self._eval_index.query_overlaps(query):
            return "contaminated_query", ""
        if f.language_check:
            scorer = self._language_scorer()
            min_words = 10**6 if q["style"] in f.language_lenient_styles else f.language_min_words
            if scorer.is_foreign(query, f.language_threshold, f.foreign_threshold, min_words):
                target, top, top_p = scorer.predict(query)
                return "language", f"p({self.language.iso_639_1})={target:.2f}, top {top} {top_p:.2f}"
        n_words = len(words(query))
        if not (f.min_words <= n_words <= f.max_words) or not (f.min_chars <= len(query) <= f.max_chars):
            return "length", f"{n_words} words, {len(query)} chars"
        if f.max_questions is not None and (n_questions := question_count(query)) > f.max_questions:
            return "multi_question", f"{n_questions} questions in one query"
        if n_words >= f.copy_min_words:
            share = copied_fraction(query, text_of.get(q["passage_id"], ""))
            if share >= f.copy_max_ratio:
                return "copied_from_passage", f"{share:.2f} of the query is a verbatim span"
        return None

    def _language_scorer(self) -> LanguageScorer:
        if not hasattr(self, "_scorer"):
            self._scorer = LanguageScorer(self.language.lid["ft176"].label)
        return self._scorer

    def _dedup(self, kept: list[dict], drop) -> list[dict]:
        """Exact duplicates (normalized text) anywhere; near-duplicates among one passage's queries."""
        stop = set(self.language.stop_words)
        seen: set[str] = set()
        by_passage: dict[str, list[set]] = {}
        out = []
        for q in kept:
            key = normalized(q["query"])
            if key in seen:
                drop(q, "duplicate")
                continue
            seen.add(key)
            bag = content_words(q["query"], stop)
            siblings = by_passage.setdefault(q["passage_id"], [])
            near = max((jaccard(bag, other) for other in siblings), default=0.0)
            if near >= self.config.filter.near_duplicate_threshold:
                drop(q, "near_duplicate", f"jaccard {near:.2f}")
                continue
            siblings.append(bag)
            out.append(q)
        return out

    def _round_trip(self, kept: list[dict], passages: list[dict], drop) -> list[dict]:
        rt = self.config.filter.round_trip
        if not rt.enabled or not kept:
            return kept
        model = load_embedder(rt.model)
        index = {p["passage_id"]: i for i, p in enumerate(passages)}
        passage_vecs = cached_embeddings(model, rt.model, [p["text"] for p in passages], rt.passage_prompt,
                                         self.dir / "embeddings", rt.batch_size, desc="passages")
        query_vecs = model.encode([q["query"] for q in kept], prompt=rt.query_prompt, batch_size=rt.batch_size,
                                  normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=True)
        ranks = positive_ranks(query_vecs, passage_vecs, np.array([index[q["passage_id"]] for q in kept]))
        out = []
        for q, rank in zip(kept, ranks):
            if rank > rt.top_k:
                drop(q, "round_trip", f"positive ranked {rank}")
            else:
                out.append({**q, "positive_rank": int(rank)})
        return out


def _brief(q: dict) -> dict:
    return {"query_id": q["query_id"], "passage_id": q["passage_id"], "style": q["style"], "query": q["query"]}


_DROPPED_SCHEMA = pa.schema([(name, pa.string()) for name in
                             ("query_id", "passage_id", "style", "query", "reason", "detail")])
