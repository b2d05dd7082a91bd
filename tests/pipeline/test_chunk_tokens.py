"""Chunk-memoized spaCy tokens (pipeline/chunk_tokens.py) are exactly spaCy's, for MinHash and for BM25."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import spacy
from datatrove.utils.text import DEF_TEXT_NORM_CONFIG, simplify_text
from datatrove.utils.word_tokenizers import load_word_tokenizer

from pipeline.chunk_tokens import ChunkCache, ChunkedWordTokenizer, chunked_word_tokenizer, splits_on_whitespace
from pipeline.languages import load_language
from pipeline.mining.bm25 import LanguageTokenizer

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "data" / "sample"
TRICKY = [
    "L'acqua del Secchia ha rotto gli argini: 3km di campi, 12,5 mm di pioggia, -4°C. alle 6.30!",
    "dell'art. 5 e all’art. 12 (si veda www.comune.modena.it o scrivi a info@comune.it)",
    "due  spazi,\tuna tabulazione\ne un a capo;\xa0spazio unificatore  ",
    "«Chi è Dan Friedkin?» Il 32enne A. J. ha detto: “basta”… sett.. ‘ndrangheta ©2021 €100 +39",
    "",
    "   ",
]


def sample_texts(n: int = 150) -> list[str]:
    texts = []
    for path in sorted(SAMPLE.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    return texts[:n] + TRICKY


@pytest.fixture(scope="module")
def texts():
    return sample_texts()


def test_word_tokens_are_spacys_on_raw_and_simplified_text(texts):
    spacy_words = load_word_tokenizer("ita_Latn")
    fast = chunked_word_tokenizer(load_word_tokenizer("ita_Latn"))
    assert isinstance(fast, ChunkedWordTokenizer)
    for text in texts + [simplify_text(t, DEF_TEXT_NORM_CONFIG) for t in texts]:
        assert fast.word_tokenize(text) == spacy_words.word_tokenize(text), text[:80]
    assert fast.word_tokenize(TRICKY[0]) == fast.word_tokenize(TRICKY[0])  # from the cache the second time


def test_bm25_tokens_are_spacys(texts):
    fast = LanguageTokenizer.for_language(load_language("ita_Latn"))
    slow = LanguageTokenizer.for_language(load_language("ita_Latn"))
    slow._chunked = None  # the plain spaCy path
    assert fast._chunked is not None
    assert fast.many(texts) == slow.many(texts)
    assert [fast(t) for t in TRICKY] == [slow(t) for t in TRICKY]


def test_other_tokenizers_are_left_as_they_are():
    class Segmenter:  # e.g. datatrove's Thai or Chinese tokenizers: they see across spaces
        language = "th"

    segmenter = Segmenter()
    assert chunked_word_tokenizer(segmenter) is segmenter
    thai = SimpleNamespace(lang="th", tokenizer=SimpleNamespace(rules={}))
    assert not splits_on_whitespace(thai)
    italian = spacy.blank("it")
    assert splits_on_whitespace(italian)
    italian.tokenizer.add_special_case("ad hoc", [{"ORTH": "ad hoc"}])  # a special case that joins two chunks
    assert not splits_on_whitespace(italian)


def test_cache_is_bounded_and_asks_once_per_new_chunk():
    asked = []

    def tokens_of_many(chunks):
        asked.append(list(chunks))
        return [[c.lower()] for c in chunks]

    cache = ChunkCache(tokens_of_many, max_chunks=3)
    assert cache("Il Po il PO") == ["il", "po", "il", "po"]
    assert asked == [["Il", "Po", "il", "PO"]]  # one call per text, each new chunk once
    assert cache("Il Po") == ["il", "po"] and len(asked) == 1
    cache("nuovo fiume adesso")
    assert len(cache.cache) <= 4
