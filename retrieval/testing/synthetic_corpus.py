"""A synthetic Italian corpus of any size for scale benchmarks: real sentences recombined into unique passages, and
one query per passage drawn from its own sentences (the way a generator's query would be grounded in it).

Sentences come from a folder of JSONL gz documents (a ``text`` field each; the shared Italian corpus), else from
the fixture text of tiny_topics.py, so a checkout without the shared data still works. Passages are ~115-190 words
(~150-250 tokens), each a distinct combination of sentences; every query mixes words of two of its passage's
sentences, so it points at that one passage even when each sentence recurs in many passages.

Example::

    sentences = load_sentences(None)                              # the fixture sentences
    passages = list(recombined_passages(sentences, 8, seed=0))    # 8 distinct passages, 4 per document
    query = passage_query(passages[0], random.Random(0), "q0")   # style keywords or question
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

from retrieval.testing.tiny_topics import fixture_sentences

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_QUESTION_WORDS = ("Quando", "Dove", "Perché", "Come", "In che modo")
PASSAGES_PER_DOC = 4


def load_sentences(corpus_dir: Path | None, min_words: int = 6, max_words: int = 40) -> list[str]:
    """Distinct sentences of ``min_words``-``max_words`` words from ``corpus_dir/*.jsonl.gz`` (in file order); the
    fixture sentences (each ending with a full stop) when the folder is missing or None."""
    files = sorted(Path(corpus_dir).glob("*.jsonl.gz")) if corpus_dir and Path(corpus_dir).is_dir() else []
    if not files:
        return [s if s.endswith((".", "?")) else s + "." for s in dict.fromkeys(fixture_sentences(0))]
    out: dict[str, None] = {}
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                for paragraph in json.loads(line)["text"].split("\n"):
                    for sentence in _SENTENCE_END.split(paragraph.strip()):
                        if min_words <= len(sentence.split()) <= max_words:
                            out[sentence] = None
    return list(out)


def recombined_passages(sentences: list[str], n: int, seed: int = 0, min_words: int = 115,
                        max_words: int = 190) -> Iterator[dict]:
    """``n`` distinct passages (PASSAGES columns, plus ``sentences``: their sentence texts) of random sentences,
    ``PASSAGES_PER_DOC`` per document; deterministic for a seed."""
    rng = random.Random(seed)
    seen: set[int] = set()
    i = 0
    while i < n:
        target, picked, length = rng.randint(min_words, max_words), [], 0
        while length < target or len(picked) < 2:
            picked.append(rng.randrange(len(sentences)))
            length += len(sentences[picked[-1]].split())
        key = hash(tuple(picked))
        if key in seen:
            continue
        seen.add(key)
        chosen = [sentences[k] for k in picked]
        doc = f"d{i // PASSAGES_PER_DOC:06d}"
        yield {"passage_id": f"p{i:07d}", "doc_id": doc, "url": f"https://example.it/{doc}",
               "position": i % PASSAGES_PER_DOC, "n_tokens": round(length * 1.3), "text": " ".join(chosen),
               "sentences": chosen}
        i += 1


def _long_words(sentence: str, k: int, rng: random.Random) -> list[str]:
    """``k`` of the longest words of ``sentence`` (rare words are long; stop words are short), lower-cased."""
    ranked = sorted(dict.fromkeys(w.lower() for w in _WORD.findall(sentence) if not w.isdigit()), key=len,
                    reverse=True)
    return rng.sample(ranked[: k + 2], min(k, len(ranked)))


def passage_query(passage: dict, rng: random.Random, query_id: str) -> dict:
    """One query for ``passage`` (GENERATED_QUERIES columns but model/prompt_hash): keywords from two of its
    sentences, or, when one has words to spare, a question over a clause of one sentence plus words of another,
    with the rest of that sentence as its evidence (copied from the passage, as the grounding rules want)."""
    first, second = rng.sample(passage["sentences"], 2)
    tokens = _WORD.findall(first)
    if len(tokens) >= 10 and rng.random() < 0.5:
        start = rng.randrange(0, len(tokens) - 9)
        clause = tokens[start:start + 6]
        query = f"{rng.choice(_QUESTION_WORDS)} {clause[0].lower()} {' '.join(clause[1:])} e " \
                f"{' '.join(_long_words(second, 2, rng))}?"
        style, evidence = "question", " ".join(tokens[start + 6:start + 10])
    else:
        style, evidence = "keywords", ""
        query = " ".join(_long_words(first, 2, rng) + _long_words(second, 2, rng))
    return {"query_id": query_id, "passage_id": passage["passage_id"], "doc_id": passage["doc_id"], "style": style,
            "query": query, "evidence": evidence}
