"""The filter's text helpers (pipeline/filtering/rules.py) and the n-gram helper of decontamination."""

from __future__ import annotations

import pytest
from datatrove.utils.text import ngrams

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


def test_words_and_normalized():
    assert words("L'Adige, fiume d'Italia: 410 km!") == ["l", "adige", "fiume", "d", "italia", "410", "km"]
    assert normalized("  Dove NASCE il\tPo? ") == "dove nasce il po"
    assert normalized("ﬁume") == "fiume"  # NFKC folds the ligature


def test_question_count():
    assert question_count("Chi sono i ladri? Come si vede la loro azione?") == 2
    assert question_count("chi ha dipinto il murale??") == 1  # a doubled mark is one question
    assert question_count("furti Modena via Emilia") == 0
    assert question_count("perché? e poi cosa? e dove?") == 3


def test_copied_fraction():
    passage = "Il Po è il fiume più lungo d'Italia, nasce dal Monviso."
    assert copied_fraction("il fiume più lungo d'Italia", passage) == 1.0
    assert copied_fraction("", passage) == 0.0
    assert copied_fraction("fiume lungo Monviso sorgente", passage) == 0.25
    assert copied_fraction("Il Po nasce dal Monviso", passage) == pytest.approx(3 / 5)


def test_jaccard_and_content_words():
    stop = {"il", "di", "e"}
    assert content_words("Il fiume di Verona e il mare", stop) == {"fiume", "verona", "mare"}
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), {"a"}) == 0.0 and jaccard(set(), set()) == 0.0


def test_repeated_content_word():
    stop = {"di", "la", "via"}
    assert repeated_content_word("filmato agenti agenti filmato", stop) == "agenti"
    assert repeated_content_word("Porsche porsche scusa", stop) == "porsche"  # case does not make a new word
    assert repeated_content_word("via Pisano via Vellani 70", stop) is None  # stop words may repeat
    assert repeated_content_word("furto di biciclette alla stazione", stop) is None


def test_word_frequencies_count_passages_not_occurrences():
    freq = WordFrequencies(["furto furto furto a Carpi", "Furto in via Roma", "rapina a Carpi"])
    assert freq.passages == 3 and freq.counts["furto"] == 2  # case-folded, once per passage
    assert freq.rarest("furto Carpi via", stop_words={"a", "in"}) == ("via", 1)
    assert freq.rarest("furto Bomporto", stop_words=set()) == ("bomporto", 0)  # a word the corpus lacks is rarest
    assert freq.rarest("a in", stop_words={"a", "in"}) is None


def test_language_scorer():
    scorer = LanguageScorer("it")
    assert scorer.score("Dove nasce il fiume Adige e quanto è lungo?") > 0.9
    assert scorer.score("Where does the Adige river start?") < 0.1
    assert scorer.score("Dove nasce\nil fiume Adige?") > 0.9  # newlines do not break fastText
    assert LanguageScorer("xx").score("Dove nasce il fiume?") == 0.0
    target, top, top_p = scorer.predict("Where does the Adige river start?")
    assert top == "en" and top_p > 0.6 and target < 0.1
    assert scorer.is_foreign("river mountain lake facts", min_target=0.3, foreign=0.6, min_words=5)
    assert not scorer.is_foreign("Adige Verona Trento", min_target=0.3, foreign=0.6, min_words=5)
    assert scorer.is_foreign("Adige Verona Trento", min_target=0.3, foreign=0.6, min_words=1)


def test_ngrams():  # datatrove's, as decontamination uses them
    assert set(ngrams(["a", "b", "c"], 2)) == {("a", "b"), ("b", "c")}
    assert set(ngrams(["a"], 2)) == set()
