"""Grounding: does a generated query stay inside what its passage says? Checked with string rules, no model.

Round-trip consistency cannot catch an invented fact: "chi ha espresso cordoglio per Enrico Caruso?" on a passage
about Pavarotti's death still ranks that passage first. These rules can:

- **names and numbers** in the query (capitalised words after the first, digits) must occur in the passage;
- **content words** (not stop words) must come from the passage: a share of at least ``min_content_share``
  (per style: keyword queries take all their words from the passage, questions may rephrase);
- **evidence**: a style asked to carry evidence (the answer a question asks for, copied from the passage) must
  have it, it must occur in the passage (its longest verbatim span covers ``min_evidence_copied`` of its words),
  and it must not be given away by the query itself;
- **answer in context**: the sentence that holds the evidence, with ``context_sentences`` neighbours on each side,
  must share ``min_context_words`` content words with the question (words of the evidence itself aside): otherwise
  the question is about one part of the passage and its "answer" copied from another ("in quale anno è condannato
  il nigeriano Lucky Frank?" answered with a year from the next story). Read on it_corpus questions: with one
  neighbour, about 9 in 10 of those dropped were wrong or garbled; with the evidence's sentence alone, half were
  good questions whose subject sits in the sentence before.

Words longer than ``stem_chars`` match by a shared prefix of that many characters (accents folded), a crude
stemmer that lets "furto"/"furti", "morte"/"morto" or "elezione"/"elezioni" match in Italian and most Romance or
Germanic languages; it is written here because a real stemmer per language (Snowball) would add a language
setting for little gain on this test.

Example:
    >>> rules = GroundingRules(stop_words={"il", "di", "chi", "è", "per", "ha"})
    >>> passage = "Luciano Pavarotti è morto a Modena il 6 settembre 2007, all'età di 71 anni."
    >>> rules.check("chi ha espresso cordoglio per Enrico Caruso?", None, passage, min_content_share=0.5)
    ('invented_name', 'enrico, caruso')
    >>> rules.check("quando è morto Pavarotti?", "6 settembre 2007", passage, min_content_share=0.5,
    ...             needs_evidence=True) is None
    True
    >>> longer = passage + " Il tenore era malato da un anno. Aveva cantato a Torino nel febbraio 2006."
    >>> rules.check("quando è morto Pavarotti?", "febbraio 2006", longer, min_content_share=0.5, needs_evidence=True,
    ...             min_context_words=1)
    ('answer_out_of_context', "0 of its words in or beside the answer's sentence")
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

from pipeline.filtering.rules import copied_fraction, words

_TOKEN = re.compile(r"\w+", re.UNICODE)
# a sentence ends at . ! ? … (closing quotes kept out) before a capital or an opening quote; not after an initial "A."
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?<!\b[A-Z]\.)[»”\"')]*\s+(?=[«“\"'(]?[A-ZÀ-Ý0-9])")


def sentences(text: str) -> list[str]:
    """Rule-based sentences (no model: spaCy's sentencizer would need a language object per call site)."""
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


@lru_cache(maxsize=1 << 18)  # words repeat (Zipf): at 50k queries, unicode folding was a tenth of the filter's time
def fold(word: str) -> str:
    """Lower case without accents: 'Città' -> 'citta'."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass
class GroundingRules:
    """String rules that tie a query (and its evidence) to its passage. Stateless apart from settings."""

    stop_words: set[str] = field(default_factory=set)
    stem_chars: int = 4
    min_evidence_copied: float = 0.8
    context_sentences: int = 1

    def __post_init__(self):
        self.stop_words = {fold(w) for w in self.stop_words}

    def _stem(self, word: str) -> str:
        return word[: self.stem_chars]

    def _passage_vocab(self, passage: str) -> tuple[set[str], set[str], set[str]]:
        """(folded words, their stems, stems of the words written in lower case) of the passage; the last passage's
        are kept (``check`` asks twice per query, and a passage's queries come together)."""
        last = getattr(self, "_last_vocab", None)
        if last is None or last[0] != passage:
            folded = {fold(w) for w in words(passage)}
            lower = {fold(w) for w in _TOKEN.findall(unicodedata.normalize("NFKC", passage)) if w[:1].islower()}
            self._last_vocab = last = (passage, (folded, {self._stem(w) for w in folded},
                                                 {self._stem(w) for w in lower}))
        return last[1]

    def _grounded(self, word: str, exact: set[str], stems: set[str]) -> bool:
        w = fold(word)
        if w.isdigit():
            return w in exact  # numbers must match exactly: "2007" is not "2017"
        return w in exact or (len(w) > self.stem_chars and self._stem(w) in stems)

    def names(self, query: str) -> list[str]:
        """Capitalised words that are not the query's first word, and numbers: what invented facts are made of."""
        tokens = _TOKEN.findall(unicodedata.normalize("NFKC", query))
        return [t for i, t in enumerate(tokens) if any(c.isdigit() for c in t) or (i > 0 and t[:1].isupper())]

    def content_share(self, query: str, passage: str) -> float:
        exact, stems, _ = self._passage_vocab(passage)
        content = [w for w in words(query) if fold(w) not in self.stop_words]
        if not content:
            return 0.0
        return sum(self._grounded(w, exact, stems) for w in content) / len(content)

    def check(self, query: str, evidence: str | None, passage: str, *, min_content_share: float,
              needs_evidence: bool = False, min_specific_words: int = 0,
              min_context_words: int = 0) -> tuple[str, str] | None:
        """The first rule the query breaks as ``(reason, detail)``, or None when it is grounded.

        ``min_specific_words``: a query without a name or a number needs at least this many content words; "chi ha
        visto il disastro?" is answerable from its passage but names nothing a searcher would know to type.
        ``min_context_words``: with evidence, the content words (outside the evidence) that the question must share
        with the passage sentence holding the evidence.
        """
        content = [w for w in words(query) if fold(w) not in self.stop_words]
        if min_specific_words and not self.names(query) and len(content) < min_specific_words:
            return "not_specific", f"{len(content)} content words and no name or number"
        # a name must be in the passage as it is ("Luciana" is not "Luciano", "Modesto" not "Modena"); a capitalised
        # common noun may inflect like any word when the passage writes it in lower case ("Carabinieri")
        exact, _, lower_stems = self._passage_vocab(passage)
        invented = [n for n in self.names(query) if fold(n) not in exact and not (
            n[:1].isupper() and len(n) > self.stem_chars and self._stem(fold(n)) in lower_stems)]
        if invented:
            return "invented_name", ", ".join(fold(n) for n in invented[:5])
        share = self.content_share(query, passage)
        if share < min_content_share:
            return "ungrounded_words", f"{share:.2f} of the content words come from the passage"
        if needs_evidence:
            if not evidence or not words(evidence):
                return "no_evidence", ""
            copied = copied_fraction(evidence, passage)
            if copied < self.min_evidence_copied:
                return "evidence_not_in_passage", f"{copied:.2f} of the evidence is a verbatim span"
            if _gives_away(evidence, query, self.stop_words):
                return "evidence_in_query", "the query already contains its answer"
            if min_context_words:
                shared, asked = self.context_words(query, evidence, passage)
                if shared < min(min_context_words, asked):  # (a question whose words are all in its evidence passes)
                    return "answer_out_of_context", f"{shared} of its words in or beside the answer's sentence"
        return None

    def context_words(self, query: str, evidence: str, passage: str) -> tuple[int, int]:
        """(shared, asked): of the ``asked`` content words of ``query`` that are not in ``evidence``, those ``shared``
        with the passage sentence(s) that the evidence's longest verbatim span touches and ``context_sentences``
        sentences on each side, matched like every other word here (exact or by stem)."""
        per_sentence = [words(part) for part in sentences(passage)]
        flat = [w for ws in per_sentence for w in ws]
        answer = words(evidence)
        match = SequenceMatcher(None, answer, flat, autojunk=False).find_longest_match(0, len(answer), 0, len(flat))
        touched, start = [], 0
        for i, ws in enumerate(per_sentence):  # the sentences the span touches, and their neighbours
            if start < match.b + max(match.size, 1) and start + len(ws) > match.b:
                touched.append(i)
            start += len(ws)
        given = {fold(w) for w in answer}
        asked = [w for w in words(query) if fold(w) not in self.stop_words and fold(w) not in given]
        if not touched:
            return 0, len(asked)
        lo, hi = max(0, touched[0] - self.context_sentences), touched[-1] + self.context_sentences + 1
        context = [w for ws in per_sentence[lo:hi] for w in ws]
        exact = {fold(w) for w in context}
        stems = {self._stem(w) for w in exact}
        return sum(self._grounded(w, exact, stems) for w in asked), len(asked)


def _gives_away(evidence: str, query: str, stop_words: set[str]) -> bool:
    """True when every content word of the evidence is already in the query (the question states its answer)."""
    answer = {fold(w) for w in words(evidence)} - stop_words
    asked = {fold(w) for w in words(query)}
    return bool(answer) and answer <= asked
