"""The queries the fake OpenAI server (fake_openai_server.py) writes: built from the passage's own words, so the
filter's grounding rules accept the Italian ones, with evidence copied from the passage."""

from __future__ import annotations

import re

_MARKER = re.compile(r"\[\[[A-Z0-9]+\]\]")
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)


def passage_words(passage: str, n: int = 3) -> list[str]:
    """The first ``n`` distinct words of 4+ letters of the passage (markers left out), lower case."""
    out: list[str] = []
    for word in _WORD.findall(_MARKER.sub(" ", passage).lower()):
        if word not in out:
            out.append(word)
        if len(out) == n:
            break
    while len(out) < n:
        out.append(f"parola{len(out)}")
    return out


def italian_queries(passage: str, styles: list[str]) -> list[dict[str, str]]:
    """The queries a well-behaved model writes for ``passage``: one per style, from the passage's words."""
    a, b, c = passage_words(passage)
    forms = {
        "keywords": f"{a} {b} {c}",
        "question": f"Che cosa dice il testo su {a} e {b}?",
        "descriptive": f"Vorrei informazioni su {a}, {b} e {c} nel testo",
    }
    again = {"question": f"Dove si parla di {c} insieme a {b}?", "keywords": f"{c} {b}"}  # a style asked twice
    evidence = {"keywords": f"{a} {b} {c}", "question": c}  # copied from the passage, not in the question
    out, seen = [], set()
    for s in styles:
        query = (again if s in seen else forms).get(s, f"ricerca su {a} {b} {c} ({s})")
        seen.add(s)
        out.append({"style": s, "query": query, "answer": a if query.endswith(f"{b}?") else evidence.get(s, c)})
    return out


def english_queries(passage: str, styles: list[str]) -> list[dict[str, str]]:
    a, b, _ = passage_words(passage)
    forms = ["what does the text say about the history of this place",
             "where can I find information about the river and the mountain",
             "please give me a detailed description of the events that happened in the city"]
    return [{"style": s, "query": f"{forms[i % len(forms)]} {a} {b}", "answer": a} for i, s in enumerate(styles)]
