"""The qrels the pipeline publishes for its splits (reading and writing BEIR folders: retrieval/beir.py)."""

from __future__ import annotations


def qrels_for(rows: list[dict], ids_of_text: dict[str, list[str]]) -> list[tuple[str, str, int]]:
    """(query-id, corpus-id, 1) for each query's positive and every other passage with exactly its text
    (a verbatim copy under another id answers the query just as well)."""
    out = []
    for row in rows:
        ids = dict.fromkeys([row["passage_id"], *ids_of_text.get(row["positive"], [])])
        out.extend((row["query_id"], pid, 1) for pid in ids)
    return out
