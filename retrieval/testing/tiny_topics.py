"""The fixture text behind the tiny model and dataset: topics with two rare invented keywords each.

Learning is possible on it: every topic's queries and passage share two rare invented keywords, while the passages
are padded with many common Italian words that a random model confuses. Train, dev and test queries use different
templates over the same passages. The tiny tokenizer (tiny_model.py) is trained on ``fixture_sentences``, so it
knows every word of the fixture.

Example:
    >>> topics = fixture_topics(seed=0, n_topics=2)
    >>> [t["id"] for t in topics], topics == fixture_topics(seed=0, n_topics=2)
    (['p0', 'p1'], True)
    >>> topics[0]["a"] in topics[0]["text"] and topics[0]["b"] in topics[0]["text"]
    True
    >>> TRAIN_TEMPLATES[0].format(a="bacedifo", b="gulameni")
    'che cosa sai di bacedifo e gulameni'
"""

from __future__ import annotations

import random

N_TOPICS = 48
_SYLLABLES = ["ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "zo", "qua", "bre"]
_COMMON = (
    "la il di che e un una per con del della nel sono era anche come più questo questa molto sempre città "
    "giorno anno tempo vita casa lavoro persone parte storia mondo paese strada acqua sera notte modo caso"
).split()
TRAIN_TEMPLATES = ["che cosa sai di {a} e {b}", "informazioni su {a} {b}", "{a} {b} spiegazione"]
DEV_TEMPLATES = ["parlami di {a} e {b}"]
TEST_TEMPLATES = ["dove si parla di {a} {b}", "notizie {a} {b}"]


def _keyword(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(4))


def fixture_topics(seed: int = 0, n_topics: int = N_TOPICS) -> list[dict[str, str]]:
    """One passage per topic (``id``, keywords ``a`` and ``b``, ``text``); deterministic for a seed."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < 2 * n_topics:
        words.add(_keyword(rng))
    keywords = sorted(words)
    rng.shuffle(keywords)
    topics = []
    for i in range(n_topics):
        a, b = keywords[2 * i], keywords[2 * i + 1]
        filler = [rng.choice(_COMMON) for _ in range(30)]
        filler.insert(rng.randrange(0, 10), a)
        filler.insert(rng.randrange(15, 30), b)
        topics.append({"id": f"p{i}", "a": a, "b": b, "text": " ".join(filler) + "."})
    return topics


def fixture_sentences(seed: int = 0) -> list[str]:
    """All text of the fixture: every passage and every query of every template (the tiny tokenizer's corpus).

    >>> len(fixture_sentences(0)) == N_TOPICS * (1 + len(TRAIN_TEMPLATES + DEV_TEMPLATES + TEST_TEMPLATES))
    True
    """
    out = []
    for t in fixture_topics(seed):
        out.append(t["text"])
        for tpl in TRAIN_TEMPLATES + DEV_TEMPLATES + TEST_TEMPLATES:
            out.append(tpl.format(a=t["a"], b=t["b"]))
    return out
