"""The qrels the pipeline publishes for its splits (reading and writing BEIR folders: retrieval/beir.py).

A verbatim copy of a positive under another passage id answers its query just as well, so the qrels name every id
that holds the positive's text. ``SameTextIndex`` finds those ids from a stream of passages, keeping a 16-byte
digest per text rather than the text (the corpus need not fit in memory).

Example:
    >>> index = SameTextIndex()
    >>> index.add([{"passage_id": "p1", "text": "a"}, {"passage_id": "p2", "text": "b"},
    ...            {"passage_id": "p3", "text": "a"}])
    >>> list(qrels_for([{"query_id": "q1", "passage_id": "p1", "positive": "a"}], index.groups()))
    [('q1', 'p1', 1), ('q1', 'p3', 1)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator


def text_key(text: str) -> bytes:
    """A 16-byte digest standing for the text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class SameTextIndex:
    """Passage ids grouped by identical text, built batch by batch; only texts held by two or more ids are kept."""

    def __init__(self):
        self._first: dict[bytes, str] = {}
        self._copies: dict[bytes, list[str]] = {}

    def add(self, passages: Iterable[dict]) -> None:
        for p in passages:
            key = text_key(p["text"])
            first = self._first.setdefault(key, p["passage_id"])
            if first != p["passage_id"]:
                self._copies.setdefault(key, [first]).append(p["passage_id"])

    def groups(self, kept: set[str] | None = None) -> dict[bytes, list[str]]:
        """text digest -> ids holding that text (in corpus order), restricted to ``kept`` ids when given."""
        if kept is None:
            return self._copies
        return {key: [i for i in ids if i in kept] for key, ids in self._copies.items()}


def qrels_for(rows: Iterable[dict], copies: dict[bytes, list[str]]) -> Iterator[tuple[str, str, int]]:
    """(query-id, corpus-id, 1) for each row's positive and every other passage with exactly its text
    (``copies``: ``SameTextIndex.groups``)."""
    for row in rows:
        ids = dict.fromkeys([row["passage_id"], *copies.get(text_key(row["positive"]), [])])
        yield from ((row["query_id"], pid, 1) for pid in ids)
