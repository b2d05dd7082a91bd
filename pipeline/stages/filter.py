"""filter: keep only queries that are good training signal.

Rules, cheapest first, each counted by reason: decontamination (passages and queries overlapping the evaluation
sets), language, length, several questions in one, repeated or only common words in a keyword query, copy-paste
from the passage, grounding (evidence and content words taken from the passage), exact duplicates, near-duplicates
among a passage's queries, round-trip consistency (a panel of judges, the base embedder and BM25 by default, must
rank the query's own passage in their top k among all passages, as filter.round_trip.agree says).

Queries and passages are read in batches (``RunFolder.batches``) and the corpus and the dropped queries written row
group by row group: memory holds the queries still standing and what the judge panel indexes (the corpus texts, the
passage embeddings, the BM25 index), not every row of the run.

Output under ``runs/<name>/filter/``: ``queries.parquet`` (kept queries, with ``positive_rank``),
``dropped.parquet`` (every dropped query with its reason), ``passages.parquet`` (the corpus minus contaminated
passages), ``embeddings/`` (cached passage embeddings, reused by mine).
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from typing import Any

import numpy as np

from pipeline.config.generate import DenseIndexConfig
from pipeline.errors import StageError
from pipeline.filtering.decontamination import EvalOverlapIndex
from pipeline.filtering.grounding import GroundingRules
from pipeline.filtering.judges import build_panel
from pipeline.filtering.rules import (
    LanguageScorer,
    WordFrequencies,
    content_words,
    copied_fraction,
    jaccard,
    normalized,
    question_count,
    repeated_content_word,
    words,
)
from pipeline.run_folder import BATCH_ROWS, FILTER_DROPPED
from pipeline.stages.base import Stage, format_drops


class FilterStage(Stage):
    name = "filter"
    config_sections = ("filter",)
    batch_rows = BATCH_ROWS  # passages per read batch and written row group

    def config_hash(self) -> str:
        # the dense-index settings shape the output only above index.exact_below passages; at their defaults they
        # are left out, so runs made before the setting existed keep their hash (and their finished filter stage)
        # round_trip.tasks only splits the same work into shards: it never shapes the output
        unused = {"index", "tasks"} if self.config.filter.round_trip.index == DenseIndexConfig() else {"tasks"}
        return self.config.section_hash("filter", exclude={"filter": {"round_trip": unused}})

    def process(self) -> dict[str, Any]:
        with_queries = {r["passage_id"] for batch in self._query_batches(("passage_id",)) for r in batch}
        if not with_queries:
            raise StageError(f"generate produced no valid queries ({self.folder.path('generate.queries')} is "
                             "empty): check generate/dropped.parquet for why the replies were dropped")
        corpus_ids, corpus_texts, text_of, contaminated = self._stream_corpus(with_queries)
        kept, reasons, queries_in = [], Counter(), 0
        with self.folder.writer("filter.dropped", FILTER_DROPPED) as dropped_out:
            # the rules' drops go out batch by batch; de-duplication and round-trip drop among the queries still
            # standing (held anyway) and go out last, in that order
            late: list[dict] = []

            def drop(q: dict, reason: str, detail: str = "") -> None:
                late.append({**_brief(q), "reason": reason, "detail": detail})
                reasons[reason] += 1

            for batch in self._query_batches():
                queries_in += len(batch)
                rows = []
                for q in batch:
                    reason = self._first_failing_rule(q, text_of, contaminated)
                    if reason:
                        rows.append({**_brief(q), "reason": reason[0], "detail": reason[1]})
                        reasons[reason[0]] += 1
                    else:
                        kept.append(q)
                dropped_out.write(rows)
            kept = self._dedup(kept, drop)
            kept = self._round_trip(kept, corpus_ids, corpus_texts, drop)
            dropped_out.write(late)
        if not kept:  # dropped.parquet is written first: the message points the user at it
            raise StageError(f"every query was filtered away: see {self.folder.path('filter.dropped')} for the "
                             "reasons, and relax the filter section of the config (or improve the generation "
                             "prompt/model)")
        self.folder.write("filter.queries", kept)
        styles = Counter(q["style"] for q in kept)
        return {"queries_in": queries_in, "rows": len(kept), "dropped": dict(reasons),
                "kept_by_style": dict(styles), "round_trip": _panel_stats(kept),
                "passages_removed_contaminated": len(contaminated),
                "passages_with_queries": len({q["passage_id"] for q in kept}), "corpus_passages": len(corpus_ids)}

    def _query_batches(self, columns: tuple[str, ...] | None = None):
        return self.folder.batches("generate.queries", columns=columns, batch_rows=self.batch_rows, allow_empty=True)

    def summary(self, stats: dict[str, Any]) -> str:
        return f"{stats['queries_in']} queries in, {stats['rows']} kept; dropped: {format_drops(stats['dropped'])}"

    def _stream_corpus(self, with_queries: set[str]) -> tuple[list[str], list[str], dict[str, str], set[str]]:
        """The run's retrieval corpus, streamed from the passages in batches and written to ``filter/passages``:
        (passage ids, their texts, text of each passage that has queries, contaminated passage ids). Passages
        overlapping an evaluation set are left out (decontamination); the word frequencies are counted on the way.

        Only the ids and texts the judge panel indexes are held, not the passages' rows (issue "C4 scale")."""
        keep = self._corpus_sample(with_queries)
        self._eval_index = self._eval_overlap_index()
        self._word_frequencies = WordFrequencies()  # the retrieval corpus the query must stand out in
        ids, texts, text_of, contaminated = [], [], {}, set()
        schema = self.folder.schema("passages.passages")
        with self.folder.writer("filter.passages", schema) as out:  # sharded round-trip tasks read it
            for batch in self.folder.batches("passages.passages", batch_rows=self.batch_rows):
                rows = []
                for p in batch:
                    pid = p["passage_id"]
                    if keep is not None and pid not in keep and pid not in with_queries:
                        continue
                    if self._eval_index is not None and self._eval_index.passage_overlaps(p["text"]):
                        contaminated.add(pid)
                        continue
                    rows.append(p)
                    ids.append(pid)
                    texts.append(p["text"])
                    if pid in with_queries:
                        text_of[pid] = p["text"]
                out.write(rows)
                self._word_frequencies.add(p["text"] for p in rows)
        return ids, texts, text_of, contaminated

    def _corpus_sample(self, with_queries: set[str]) -> set[str] | None:
        """Passages kept besides those with queries (None: all of them): a seeded sample up to the cap.

        Round-trip ranks and mined negatives are relative to this corpus, and it is published as ``corpus``. A cap
        keeps CPU runs tractable (encoding every C4 passage on a laptop is not); on a cluster leave it unset.
        """
        cap = self.config.filter.corpus_max_passages
        if cap is None:
            return None
        ids = [r["passage_id"] for batch in self.folder.batches("passages.passages", columns=("passage_id",),
                                                                batch_rows=self.batch_rows) for r in batch]
        if len(ids) <= cap:
            return None
        import random

        others = sorted(i for i in ids if i not in with_queries)
        room = max(cap - (len(ids) - len(others)), 0)
        return set(random.Random(self.config.seed).sample(others, min(room, len(others))))

    # ------------------------------------------------------------------ rules
    def _eval_overlap_index(self) -> EvalOverlapIndex | None:
        sets = self.config.filter.decontamination.eval_sets
        if not sets:
            return None
        d = self.config.filter.decontamination
        return EvalOverlapIndex(sets, d.ngram, d.query_ngram, self._stop_words, d.query_min_content_words,
                                d.query_template_count)

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
        if q["style"] in f.repeated_word_styles and (word := repeated_content_word(query, self._stop_words)):
            return "repeated_word", word
        if q["style"] in f.common_word_styles and (rarest := self._word_frequencies.rarest(query, self._stop_words)):
            limit = max(f.common_word_share * self._word_frequencies.passages, f.common_word_min_passages)
            if rarest[1] > limit:
                return "common_words", f"rarest word '{rarest[0]}' is in {rarest[1]} passages"
        if n_words >= f.copy_min_words:
            share = copied_fraction(query, text_of.get(q["passage_id"], ""))
            if share >= f.copy_max_ratio:
                return "copied_from_passage", f"{share:.2f} of the query is a verbatim span"
        if f.grounding.enabled:
            g = f.grounding
            return self._grounding_rules().check(
                query, q.get("evidence"), text_of.get(q["passage_id"], ""),
                min_content_share=g.min_content_share.get(q["style"], 0.0),
                needs_evidence=q["style"] in g.evidence_styles,
                min_specific_words=g.min_specific_words.get(q["style"], 0),
                min_context_words=g.min_answer_context_words)
        return None

    @cached_property
    def _stop_words(self) -> set[str]:
        return set(self.language.stop_words)

    def _grounding_rules(self) -> GroundingRules:
        if not hasattr(self, "_grounding"):
            g = self.config.filter.grounding
            self._grounding = GroundingRules(self._stop_words, g.stem_chars, g.min_evidence_copied,
                                             g.answer_context_sentences)
        return self._grounding

    def _language_scorer(self) -> LanguageScorer:
        if not hasattr(self, "_scorer"):
            self._scorer = LanguageScorer(self.language.lid["ft176"].label)
        return self._scorer

    def _dedup(self, kept: list[dict], drop) -> list[dict]:
        """Exact duplicates (normalized text) anywhere; near-duplicates among one passage's queries."""
        stop = self._stop_words
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

    def _round_trip(self, kept: list[dict], corpus_ids: list[str], corpus_texts: list[str], drop) -> list[dict]:
        """The judge panel (pipeline/filtering/judges.py): every judge's rank on every query, kept if they agree."""
        rt = self.config.filter.round_trip
        if not rt.enabled or not kept:
            return [{**q, "eval_eligible": True} for q in kept]
        panel = self.panel(corpus_texts)  # passage embeddings and BM25 index now on disk
        index = {pid: i for i, pid in enumerate(corpus_ids)}
        queries, positives = [q["query"] for q in kept], np.array([index[q["passage_id"]] for q in kept])
        if rt.tasks > 1:
            ranks = self._ranks_in_tasks(queries, positives)
        else:
            ranks = panel.ranks(queries, positives)
        passed, eligible = panel.verdicts(ranks)
        out = []
        for i, q in enumerate(kept):
            own = {f"rank_{name}": int(r[i]) for name, r in ranks.items()}
            if not passed[i]:
                drop(q, "round_trip", ", ".join(f"{k} {v}" for k, v in own.items()))
            else:
                out.append({**q, **own, "positive_rank": own["rank_base"], "eval_eligible": bool(eligible[i])})
        return out

    def panel(self, texts: list[str]):
        """The configured judge panel over the corpus ``texts`` (pipeline/filtering/judges.py)."""
        return build_panel(self.config.filter.round_trip, texts, self.language, self.folder.path("run.embeddings"),
                           self.folder.path("run.bm25"))

    def _ranks_in_tasks(self, queries: list[str], positives: np.ndarray) -> dict[str, np.ndarray]:
        """Every judge's ranks, computed in ``round_trip.tasks`` shards on the run's executor
        (pipeline/filtering/shards.py); a killed stage reruns only the unfinished tasks."""
        from pipeline.executors import run_sharded
        from pipeline.filtering.shards import RoundTripShard, read_rank_shards, write_candidates

        tasks = min(self.config.filter.round_trip.tasks, len(queries))
        folder = self.folder.path("filter.tasks", tasks=str(tasks))
        write_candidates(folder, queries, positives)
        step = RoundTripShard(self.config.model_dump(mode="json"), str(folder))
        run_sharded(self.config.executor, step, folder, tasks, "filter_round_trip", "filter round-trip")
        return read_rank_shards(folder / "shards", tasks)


def _panel_stats(kept: list[dict]) -> dict:
    """Per judge, how many kept queries it ranks in its top 10; and how many the base ranks outside its top 10
    (the queries fine-tuning can learn from) and how many may serve as dev/test queries."""
    judges = sorted({k.removeprefix("rank_") for q in kept for k in q if k.startswith("rank_")})
    return {"judges": judges,
            "kept_in_top10": {j: sum(q[f"rank_{j}"] <= 10 for q in kept) for j in judges},
            "kept_base_outside_top10": sum(q["rank_base"] > 10 for q in kept if "rank_base" in q),
            "eval_eligible": sum(bool(q.get("eval_eligible")) for q in kept)}


def _brief(q: dict) -> dict:
    return {"query_id": q["query_id"], "passage_id": q["passage_id"], "style": q["style"], "query": q["query"]}
