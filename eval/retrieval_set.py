"""One evaluation set in memory (``RetrievalSet``) and how every loader finishes one: BEIR folders and published
datasets (eval/sets.py) and MTEB tasks (eval/mteb_sets.py) all build it here, so neither imports the other."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from eval.errors import EvalSetError


@dataclass
class RetrievalSet:
    """Queries, passages and graded relevance judgements of one evaluation set."""

    name: str
    source: str
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    notes: list[str] = field(default_factory=list)

    def subsample(self, max_queries: int | None, seed: int = 42) -> RetrievalSet:
        """Keep a seeded random sample of at most ``max_queries`` queries; the corpus stays whole."""
        if not max_queries or len(self.queries) <= max_queries:
            return self
        keep = sorted(random.Random(seed).sample(sorted(self.queries), max_queries))
        note = f"{max_queries} of {len(self.queries)} queries (seed {seed})"
        return RetrievalSet(
            name=self.name,
            source=self.source,
            corpus=self.corpus,
            queries={q: self.queries[q] for q in keep},
            qrels={q: self.qrels[q] for q in keep},
            notes=[*self.notes, note],
        )


def passage_text(title: str | None, text: str | None, use_title: bool) -> str:
    title, text = (title or "").strip(), (text or "").strip()
    return f"{title} {text}" if use_title and title else text


def finish_set(name: str, source: str, corpus: dict, queries: dict, qrels: dict, split: str) -> RetrievalSet:
    """Keep judged queries whose relevant passages exist; explain what was dropped."""
    notes = []
    judged = {q: {d: s for d, s in rels.items() if d in corpus} for q, rels in qrels.items() if q in queries}
    judged = {q: rels for q, rels in judged.items() if any(s > 0 for s in rels.values())}
    dropped = len(queries) - len(judged)
    if dropped:
        notes.append(f"{dropped} queries without a relevant passage in the corpus left out")
    if not judged:
        raise EvalSetError(
            f"{source}: no query of split {split!r} has a relevant passage (qrels score > 0) in the corpus. "
            "Fix: check that the qrels ids match queries.jsonl/corpus.jsonl _id values."
        )
    return RetrievalSet(name, source, corpus, {q: queries[q] for q in judged}, judged, notes)
