"""Turning ranked candidates into a query's negatives: guard, same-document rule, interleaving, LLM judge.

Example:
    >>> threshold(0.80, 0.05)
    0.76
    >>> [n.index for n in interleave([Negative(1, .7, "dense")], [Negative(1, .7, "bm25"), Negative(2, .6, "bm25")])]
    [1, 2]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipeline.mining.corpus import Corpus


@dataclass(frozen=True)
class Negative:
    index: int  # corpus text index
    score: float  # dense similarity to the query (also for BM25 candidates: the guard compares like with like)
    source: str  # "dense" or "bm25"


def threshold(positive_score: float, relative_margin: float) -> float:
    """TopK-PercPos: the highest score a negative may have. Same formula as sentence-transformers'
    ``relative_margin`` (``positive - |positive| * margin``), so dense and BM25 negatives obey one rule."""
    return round(positive_score - abs(positive_score) * relative_margin, 10)


def guard(candidates: list[Negative], positive_score: float, relative_margin: float) -> tuple[list[Negative], int]:
    """Drop candidates scoring above the threshold (likely false negatives); return kept and the drop count."""
    limit = threshold(positive_score, relative_margin)
    kept = [c for c in candidates if c.score <= limit]
    return kept, len(candidates) - len(kept)


def drop_same_document(candidates: list[Negative], docs: frozenset[str], corpus: Corpus) -> tuple[list[Negative], int]:
    """Negatives must come from other documents than the positive's (a passage's neighbours often answer too);
    ``docs`` holds the positive's document and any other document containing the very same text."""
    kept = [c for c in candidates if not corpus.docs_of[c.index] & docs]
    return kept, len(candidates) - len(kept)


def interleave(*ranked: list[Negative]) -> list[Negative]:
    """Round-robin over the ranked lists (dense first), keeping the first occurrence of each passage."""
    merged, seen = [], set()
    for rank in range(max((len(r) for r in ranked), default=0)):
        for candidates in ranked:
            if rank < len(candidates) and candidates[rank].index not in seen:
                seen.add(candidates[rank].index)
                merged.append(candidates[rank])
    return merged


@dataclass
class Choice:
    negatives: list[Negative]
    judge_dropped: int = 0
    judge_unclear: int = 0


def choose(candidates: list[Negative], k: int, answers: Callable[[int], bool | None] | None = None,
           extra: int = 0) -> Choice:
    """The first ``k`` candidates; with a judge, skip those it says answer the query, judging at most ``k+extra``.

    ``answers(index)`` returns True (the passage answers the query: a false negative), False, or None (unclear
    reply: kept, counted).
    """
    if answers is None:
        return Choice(candidates[:k])
    choice = Choice([])
    for judged, candidate in enumerate(candidates):
        if len(choice.negatives) == k or judged == k + extra:
            break
        verdict = answers(candidate.index)
        if verdict:
            choice.judge_dropped += 1
            continue
        choice.judge_unclear += verdict is None
        choice.negatives.append(candidate)
    return choice
