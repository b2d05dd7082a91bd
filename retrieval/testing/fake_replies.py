"""What the fake OpenAI server's "model" writes (retrieval.testing.fake_openai_server serves it over HTTP).

The queries are built from the passage's own words, so the filter's grounding rules accept the Italian ones, with
evidence copied from the passage. Markers in the passage (``[[MALFORMED]]``, ``[[FENCED]]``...) pick a broken
reply instead; the markers that pick an HTTP status are the server's.

Example:
    >>> passage_words("Il fiume Adige nasce in Alto Adige e attraversa Verona.")
    ['fiume', 'adige', 'nasce']
    >>> italian_queries("Il fiume Adige nasce in Alto Adige.", ["keywords"])
    [{'style': 'keywords', 'query': 'fiume adige nasce', 'answer': 'fiume adige nasce'}]
    >>> reply_content("[[REFUSE]] Il fiume Adige.", ["keywords"])
    ('Mi dispiace, non posso aiutarti con questa richiesta.', 'stop')
"""

from __future__ import annotations

import json
import re

DEFAULT_STYLES = ["keywords", "question", "descriptive"]
_MARKER = re.compile(r"\[\[[A-Z0-9]+\]\]")
_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
_PASSAGE = re.compile(r'"""\n(.*?)\n"""', re.DOTALL)


def passage_of(user_message: str) -> str:
    """The passage inside the prompt (between triple quotes in the bundled templates), else the whole message.

    >>> quotes = '"' * 3
    >>> passage_of(f"Scrivi query per:\\n{quotes}\\nIl Po nasce dal Monviso.\\n{quotes}")
    'Il Po nasce dal Monviso.'
    """
    match = _PASSAGE.search(user_message)
    return match.group(1) if match else user_message


def styles_requested(body: dict) -> list[str]:
    """Styles from a chat request's JSON schema (response_format), in the cycled order the stage asks for.

    >>> styles_requested({})
    ['keywords', 'question', 'descriptive']
    """
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
    try:
        items = schema["properties"]["queries"]
        if "prefixItems" in items:  # one item schema per position: the styles in the order asked
            return [item["properties"]["style"]["enum"][0] for item in items["prefixItems"]]
        enum = items["items"]["properties"]["style"]["enum"]
        n = items.get("minItems", len(enum))
    except (KeyError, TypeError):
        return list(DEFAULT_STYLES)
    order = [s for s in DEFAULT_STYLES if s in enum] + sorted(s for s in enum if s not in DEFAULT_STYLES)
    return [order[i % len(order)] for i in range(n)]


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
    """Long English queries (the ``[[ENGLISH]]`` marker): what the language rule must drop."""
    a, b, _ = passage_words(passage)
    forms = ["what does the text say about the history of this place",
             "where can I find information about the river and the mountain",
             "please give me a detailed description of the events that happened in the city"]
    return [{"style": s, "query": f"{forms[i % len(forms)]} {a} {b}", "answer": a} for i, s in enumerate(styles)]


def reply_content(passage: str, styles: list[str]) -> tuple[str, str]:
    """(message content, finish_reason) of a 200 reply for ``passage``: valid JSON unless a marker asks otherwise."""
    good = json.dumps({"queries": italian_queries(passage, styles)}, ensure_ascii=False)
    if "[[MALFORMED]]" in passage:
        return "Ecco le query: keywords = fiume Po; question = quale fiume", "stop"
    if "[[FENCED]]" in passage:
        return f"```json\n{good}\n```", "stop"
    if "[[SCHEMA]]" in passage:
        return json.dumps({"risposta": "ecco", "numero": 3}), "stop"
    if "[[REFUSE]]" in passage:
        return "Mi dispiace, non posso aiutarti con questa richiesta.", "stop"
    if "[[EMPTY]]" in passage:
        return "", "stop"
    if "[[LONG]]" in passage:
        return good[: len(good) // 2], "length"
    if "[[ENGLISH]]" in passage:
        return json.dumps({"queries": english_queries(passage, styles)}), "stop"
    if "[[BADQUERIES]]" in passage:
        first = italian_queries(passage, styles)[0]
        bad = [first, {"style": styles[-1], "query": "   "}, {"style": styles[-1], "query": "parola " * 80},
               {"style": styles[-1], "query": "Mi dispiace, non posso scrivere questa query"},
               {"style": "poesia", "query": "una query in uno stile che nessuno ha chiesto"}]
        return json.dumps({"queries": bad}, ensure_ascii=False), "stop"
    if "[[NOVALID]]" in passage:
        return json.dumps({"queries": [{"style": s, "query": ""} for s in styles]}), "stop"
    return good, "stop"
